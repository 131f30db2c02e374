"""The webhook secret: the stack's first callback-path token (accepted while a caller's own secret is
`legacy`). Its `hmac_key` signed requests before API keys (tuma.models.api_keys) and is ignored."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tuma.security.redaction import register_secret


class WebhookSecret(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    path_token: SecretStr = Field(min_length=16)

    def model_post_init(self, __context: Any) -> None:
        register_secret(self.path_token.get_secret_value())
