"""The webhook secret: the token in callback paths and the key that signs requests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tuma.security.redaction import register_secret


class WebhookSecret(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    path_token: SecretStr = Field(min_length=16)
    hmac_key: SecretStr = Field(min_length=16)

    def model_post_init(self, __context: Any) -> None:
        register_secret(self.path_token.get_secret_value())
        register_secret(self.hmac_key.get_secret_value())
