"""Configuration from the environment: the same variable names locally and in template.yaml."""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigurationError(RuntimeError):
    """The deployment is misconfigured: nothing will work until an operator fixes it."""


def _split_list(raw: str | None) -> list[str]:
    return [item.strip() for item in (raw or "").replace(";", ",").split(",") if item.strip()]


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    sms_api_base_url: str = ""
    sms_credentials_secret: str | None = None
    sms_bulk_limit: int = Field(default=100, ge=1, le=1000)
    sms_comma_limit: int = Field(default=1000, ge=1, le=1000)
    sms_connect_timeout: float = Field(default=3.0, gt=0)
    sms_read_timeout: float = Field(default=10.0, gt=0)
    sms_max_attempts: int = Field(default=3, ge=1, le=10)
    sms_max_parts: int = Field(default=3, ge=1, le=10)
    credentials_cache_seconds: int = Field(default=300, ge=0)
    ledger_table: str | None = None
    idempotency_table: str | None = None
    outbox_queue_url: str | None = None
    alert_recipients: tuple[str, ...] = ()
    ledger_ttl_days: int = Field(default=180, ge=1)
    idempotency_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    default_language: str = "en"
    webhook_secret: str | None = None
    webhook_max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=6 * 1024 * 1024)
    customers_table: str | None = None
    c2b_account_check: bool = False
    payments_table: str | None = None
    state_table: str | None = None
    low_credit_threshold: Decimal = Field(default=Decimal(500), ge=0)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        raw: dict[str, object] = {
            "sms_api_base_url": env.get("SMS_API_BASE_URL", "").rstrip("/"),
            "sms_credentials_secret": env.get("SMS_CREDENTIALS_SECRET") or None,
            "ledger_table": env.get("LEDGER_TABLE") or None,
            "idempotency_table": env.get("IDEMPOTENCY_TABLE") or None,
            "outbox_queue_url": env.get("OUTBOX_QUEUE_URL") or None,
            "alert_recipients": tuple(_split_list(env.get("ALERT_RECIPIENTS"))),
            "default_language": env.get("DEFAULT_LANGUAGE", "en"),
            "webhook_secret": env.get("WEBHOOK_SECRET") or None,
            "customers_table": env.get("CUSTOMERS_TABLE") or None,
            "c2b_account_check": env.get("C2B_ACCOUNT_CHECK", "").strip().lower()
            in ("1", "true", "yes", "on"),
            "payments_table": env.get("PAYMENTS_TABLE") or None,
            "state_table": env.get("STATE_TABLE") or None,
        }
        numeric = {
            "sms_bulk_limit": "SMS_BULK_LIMIT",
            "sms_comma_limit": "SMS_COMMA_LIMIT",
            "sms_connect_timeout": "SMS_CONNECT_TIMEOUT",
            "sms_read_timeout": "SMS_READ_TIMEOUT",
            "sms_max_attempts": "SMS_MAX_ATTEMPTS",
            "sms_max_parts": "SMS_MAX_PARTS",
            "credentials_cache_seconds": "CREDENTIALS_CACHE_SECONDS",
            "ledger_ttl_days": "LEDGER_TTL_DAYS",
            "idempotency_ttl_seconds": "IDEMPOTENCY_TTL_SECONDS",
            "webhook_max_body_bytes": "WEBHOOK_MAX_BODY_BYTES",
            "low_credit_threshold": "LOW_CREDIT_THRESHOLD",
        }
        for field, name in numeric.items():
            if env.get(name):
                raw[field] = env[name]
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigurationError(f"invalid configuration: {problems}") from None

    def require(self, *fields: str) -> None:
        missing = [f.upper() for f in fields if not getattr(self, f)]
        if missing:
            raise ConfigurationError(f"missing configuration: {', '.join(missing)}")
