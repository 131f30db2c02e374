"""Each function's configuration, read from its environment once, at init, and validated.

One model per function, composed from the parts here that it needs: a variable a function cannot run
without is required, and a missing or malformed one stops the cold start with an error naming it. The
variable names are the contract of docs/design.md and template.yaml.

Each function's model lives in a module named after the function (`tuma.runtime.settings.webhooks`),
so that a cold start builds its own model's classes, not every function's (bench/cold_start.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tuma.errors import ConfigurationError

if TYPE_CHECKING:
    from tuma.services.reconciler import Patience

S = TypeVar("S", bound="Env")
# The provider's, Daraja's and the status receiver's URLs: HTTPS, since credentials and customers'
# payments travel in them; plain http only to this machine (the local topology's simulators).
HTTPS_URL = r"^(https://\S+|http://(127\.[0-9.]+|localhost)(:[0-9]+)?(/\S*)?)$"


def _listed(raw: Any) -> Any:
    if isinstance(raw, str):
        return tuple(item.strip() for item in raw.replace(";", ",").split(",") if item.strip())
    return raw


def _flag(raw: Any) -> Any:
    return raw.strip().lower() in ("1", "true", "yes", "on") if isinstance(raw, str) else raw


NumberList = Annotated[tuple[str, ...], BeforeValidator(_listed)]
Flag = Annotated[bool, BeforeValidator(_flag)]


class Env(BaseModel):
    """Fields are spelled as the environment variables they read."""

    # Built when first validated: a function validates one of these models, and building every one
    # of them at import cost ~50 ms of each cold start.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    # Every function: which metrics it emits (template parameter Observability; runtime.observability).
    METRICS: Literal["full", "lean"] = "full"


def load(model: type[S], env: Mapping[str, str] | None = None) -> S:
    """`model` from the environment; an empty variable counts as unset (templates write "" for "none")."""
    env = os.environ if env is None else env
    try:
        return model.model_validate({k: v for k, v in env.items() if v != ""})
    except ValidationError as exc:
        raise ConfigurationError(f"{model.__name__}: {_problems(exc)}") from None


def _problems(error: ValidationError) -> str:
    """What is missing, then what is invalid (with why), each variable named."""
    missing, invalid = [], []
    for e in error.errors():
        if e["type"] == "missing":
            missing.append(str(e["loc"][0]))
        else:
            invalid.append(f"{(e['loc'] or ('settings',))[0]} ({e['msg']})")
    problems = [f"missing {', '.join(missing)}"] if missing else []
    if invalid:
        problems.append(f"invalid {'; '.join(invalid)}")
    return "; ".join(problems)


# -- parts ------------------------------------------------------------------------------------------


class ProviderSettings(Env):
    SMS_API_BASE_URL: str = Field(pattern=HTTPS_URL)
    # Unset: credentials from TUMA_APIKEY/TUMA_PARTNER_ID/TUMA_SHORTCODE (operator commands).
    SMS_CREDENTIALS_SECRET: str | None = None
    SMS_BULK_LIMIT: int = Field(default=100, ge=1, le=1000)
    # Where a brand's real sendbulk limit, once learnt, is kept for every later invocation.
    STATE_TABLE: str | None = None
    SMS_BULK_PROBE_SECONDS: float = Field(default=3600, ge=0)
    SMS_COMMA_LIMIT: int = Field(default=1000, ge=1, le=1000)
    SMS_CONNECT_TIMEOUT: float = Field(default=3.0, gt=0)
    SMS_READ_TIMEOUT: float = Field(default=10.0, gt=0)
    SMS_MAX_ATTEMPTS: int = Field(default=3, ge=1, le=10)
    CREDENTIALS_CACHE_SECONDS: int = Field(default=300, ge=0)
    # A second brand or account of the same API, used while the primary is down (unset: none).
    SMS_SECONDARY_API_BASE_URL: str | None = Field(default=None, pattern=HTTPS_URL)
    SMS_SECONDARY_CREDENTIALS_SECRET: str | None = None
    # Sends in a row with the primary down before traffic moves; how often the primary is probed.
    FAILOVER_THRESHOLD: int = Field(default=3, ge=1, le=100)
    FAILOVER_PROBE_SECONDS: float = Field(default=60, ge=1)

    @field_validator("SMS_API_BASE_URL", "SMS_SECONDARY_API_BASE_URL", mode="after")
    @classmethod
    def _base(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("SMS_SECONDARY_API_BASE_URL", "SMS_SECONDARY_CREDENTIALS_SECRET", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _secondary_is_whole(self) -> Self:
        if self.SMS_SECONDARY_API_BASE_URL and not self.SMS_SECONDARY_CREDENTIALS_SECRET:
            raise ValueError("SMS_SECONDARY_API_BASE_URL needs SMS_SECONDARY_CREDENTIALS_SECRET")
        return self

    def secondary(self) -> Self | None:
        """These settings for the secondary provider, or None when there is none."""
        if not self.SMS_SECONDARY_API_BASE_URL:
            return None
        return self.model_copy(
            update={
                "SMS_API_BASE_URL": self.SMS_SECONDARY_API_BASE_URL,
                "SMS_CREDENTIALS_SECRET": self.SMS_SECONDARY_CREDENTIALS_SECRET,
            }
        )


class MessageSettings(Env):
    SMS_MAX_PARTS: int = Field(default=3, ge=1, le=10)
    # The business's identity, offered to every template as `business` and `business_contact`.
    BUSINESS_NAME: str = Field(default="", max_length=80)
    BUSINESS_CONTACT: str = Field(default="", max_length=80)
    DEFAULT_LANGUAGE: str = Field(default="en", pattern=r"^[a-z]{2}$")
    ALERT_RECIPIENTS: NumberList = ()


class LedgerSettings(Env):
    LEDGER_TABLE: str
    LEDGER_TTL_DAYS: int = Field(default=180, ge=1)
    # Whether the function's role may Query the ledger (template.yaml); only then does a message
    # written before 0.3.0 (no record of its recipients) fall back to a Query. Held to the template
    # by tests/e2e/test_template.py.
    LEDGER_QUERIES: ClassVar[bool] = False


class DeliveryCheckSettings(Env):
    # When Tuma asks the provider for a report the callback did not bring, and how patiently.
    DLR_FIRST_CHECK_SECONDS: int = Field(default=120, ge=1)
    DLR_MAX_INTERVAL_SECONDS: int = Field(default=7200, ge=1)
    DLR_GIVE_UP_HOURS: float = Field(default=72, gt=0)
    DLR_MAX_CALLS_PER_RUN: int = Field(default=200, ge=1)
    DLR_CALLS_PER_SECOND: float = Field(default=5, gt=0)

    def patience(self) -> Patience:
        from datetime import timedelta

        from tuma.services.reconciler import Patience

        return Patience(
            first_check=timedelta(seconds=self.DLR_FIRST_CHECK_SECONDS),
            max_interval=timedelta(seconds=self.DLR_MAX_INTERVAL_SECONDS),
            give_up_after=timedelta(hours=self.DLR_GIVE_UP_HOURS),
            max_calls=self.DLR_MAX_CALLS_PER_RUN,
            rate=self.DLR_CALLS_PER_SECOND,
        )


class OutboxSettings(Env):
    OUTBOX_QUEUE_URL: str
    # The fast lane, for messages someone is waiting for; unset, everything takes OUTBOX_QUEUE_URL.
    FAST_OUTBOX_QUEUE_URL: str | None = None


class PaymentSettings(Env):
    # The largest single payment a receipt is sent for; above it the payment is recorded REJECTED.
    MAX_PAYMENT_AMOUNT: Decimal = Field(default=Decimal(1_000_000), gt=0)


class CustomerSettings(Env):
    CUSTOMERS_TABLE: str | None = None
    C2B_ACCOUNT_CHECK: Flag = False

    @model_validator(mode="after")
    def _check_needs_table(self) -> Self:
        if self.C2B_ACCOUNT_CHECK and not self.CUSTOMERS_TABLE:
            raise ValueError("C2B_ACCOUNT_CHECK needs CUSTOMERS_TABLE")
        return self


class DarajaSettings(Env):
    # Unset (no Daraja secret configured): everything Daraja-side is off.
    DARAJA_SECRET: str | None = None
    DARAJA_BASE_URL: str = Field(default="https://api.safaricom.co.ke", pattern=HTTPS_URL)
    DARAJA_TIMEOUT: float = Field(default=20.0, gt=0)
    CREDENTIALS_CACHE_SECONDS: int = Field(default=300, ge=0)

    @field_validator("DARAJA_BASE_URL", mode="after")
    @classmethod
    def _base(cls, value: str) -> str:
        return value.rstrip("/")


class PrivacySettings(Env):
    """The suppression list and consent record (tuma.services.privacy)."""

    PRIVACY_TABLE: str | None = None
    # {"number_key": ...}: the key of the numbers' keyed hashes. Never rotated: a new key would
    # orphan every entry of the list.
    PRIVACY_SECRET: str | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> Self:
        if bool(self.PRIVACY_TABLE) != bool(self.PRIVACY_SECRET):
            raise ValueError("PRIVACY_TABLE and PRIVACY_SECRET go together")
        return self
