"""The Daraja secret: the app's consumer key and secret, the business's short codes, the number
nominated for Pull, and (for Transaction Status) the initiator and its security credential.

```json
{"consumer_key": "...", "consumer_secret": "...", "short_codes": ["600000"],
 "nominated_number": "0722000000", "initiator_name": "apiop", "security_credential": "..."}
```
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from tuma.errors import ConfigurationError
from tuma.security.redaction import register_secret

# What the template writes into a fresh secret: the business replaces it with its own values.
PLACEHOLDER = "REPLACE_ME"


class DarajaCredentials(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    consumer_key: SecretStr = Field(min_length=1)
    consumer_secret: SecretStr = Field(min_length=1)
    short_codes: tuple[str, ...] = Field(
        min_length=1, validation_alias=AliasChoices("short_codes", "short_code", "ShortCode")
    )
    nominated_number: str | None = None
    initiator_name: str | None = None
    security_credential: SecretStr | None = None

    @field_validator("short_codes", mode="before")
    @classmethod
    def _codes(cls, value: Any) -> Any:
        if isinstance(value, str | int):
            value = str(value).split(",")
        if isinstance(value, list | tuple):
            return tuple(str(code).strip() for code in value if str(code).strip())
        return value

    def model_post_init(self, __context: Any) -> None:
        for secret in (self.consumer_key, self.consumer_secret, self.security_credential):
            if secret is not None:
                register_secret(secret.get_secret_value())

    @property
    def placeholder(self) -> bool:
        """Still the template's placeholder: nothing Daraja-side can work yet."""
        values = (
            self.consumer_key.get_secret_value(),
            self.consumer_secret.get_secret_value(),
            *self.short_codes,
        )
        return any(PLACEHOLDER in value for value in values)

    @property
    def can_query_status(self) -> bool:
        return bool(
            self.initiator_name and self.security_credential and self.security_credential.get_secret_value()
        )

    @classmethod
    def parse(cls, raw: dict[str, Any], where: str) -> DarajaCredentials:
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            fields = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]}))
            raise ConfigurationError(f"{where} lacks valid Daraja credentials ({fields})") from None
