"""Provider credentials: the model, and the environment source used by operator commands.

Deployed functions read them from Secrets Manager (`tuma.adapters.secrets.SecretsManagerCredentials`).

The apikey can be regenerated in the provider's portal at any moment, which invalidates the old one
at once. The client asks for a refresh on code 1006, so a rotation costs one extra call, not a message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from tuma.errors import ConfigurationError
from tuma.models.validation import AsText
from tuma.security.redaction import register_secret


class Credentials(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    apikey: SecretStr = Field(min_length=1)
    partner_id: AsText = Field(
        min_length=1, validation_alias=AliasChoices("partnerID", "partner_id", "partnerId")
    )
    shortcode: str = Field(min_length=1)
    # Safaricom keeps transactional and promotional sender IDs apart: one ID may not carry both. A
    # promotion goes only under this one; without it, promotions are REJECTED, never sent as `shortcode`.
    promotional_shortcode: str | None = None

    @field_validator("promotional_shortcode", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _two_ids(self) -> Credentials:
        if self.promotional_shortcode is not None and self.promotional_shortcode == self.shortcode:
            raise ValueError("promotional_shortcode must be a different sender ID from shortcode")
        return self

    def model_post_init(self, __context: Any) -> None:
        # Known from here on to the log redactor, wherever the value turns up (echoed answers included).
        register_secret(self.apikey.get_secret_value())

    @classmethod
    def parse(cls, raw: Mapping[str, Any], where: str) -> Credentials:
        try:
            creds = cls.model_validate(raw)
        except ValidationError as exc:
            fields = ", ".join(
                sorted({str(e["loc"][0]) if e["loc"] else "promotional_shortcode" for e in exc.errors()})
            )
            raise ConfigurationError(f"{where} lacks valid provider credentials ({fields})") from None
        return creds


class StaticCredentials:
    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    def get(self) -> Credentials:
        return self._credentials

    def refresh(self) -> Credentials:
        return self._credentials


def from_environment(env: Mapping[str, str] | None = None) -> StaticCredentials:
    """Operator commands without Secrets Manager: TUMA_APIKEY, TUMA_PARTNER_ID, TUMA_SHORTCODE."""
    env = os.environ if env is None else env
    raw = {
        "apikey": env.get("TUMA_APIKEY", ""),
        "partnerID": env.get("TUMA_PARTNER_ID", ""),
        "shortcode": env.get("TUMA_SHORTCODE", ""),
    }
    return StaticCredentials(
        Credentials.parse(raw, "the environment (TUMA_APIKEY, TUMA_PARTNER_ID, TUMA_SHORTCODE)")
    )
