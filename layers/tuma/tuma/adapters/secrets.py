"""JSON secrets in Secrets Manager, read through Powertools Parameters and cached: the provider's
credentials and the webhook secret."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from tuma.errors import ConfigurationError
from tuma.provider.credentials import Credentials
from tuma.security.secrets import WebhookSecret

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider


class JsonSecret:
    def __init__(self, secret_id: str, provider: SecretsProvider, max_age: int = 300) -> None:
        self.secret_id = secret_id
        self._provider = provider
        self._max_age = max_age

    def read(self, force: bool = False) -> dict[str, Any]:
        try:
            raw = self._provider.get(
                self.secret_id, transform="json", max_age=self._max_age, force_fetch=force
            )
        except Exception as exc:
            # GetParameterError carries the AWS error text, which never includes the secret value.
            raise ConfigurationError(f"cannot read secret {self.secret_id!r}: {type(exc).__name__}") from exc
        if not isinstance(raw, dict):
            raise ConfigurationError(f"secret {self.secret_id!r} is not a JSON object")
        return raw


class SecretsManagerCredentials:
    """`{"apikey", "partnerID", "shortcode"}`, cached; `refresh` re-reads after a key rotation."""

    def __init__(self, secret: JsonSecret) -> None:
        self._secret = secret

    def get(self) -> Credentials:
        return Credentials.parse(self._secret.read(), f"secret {self._secret.secret_id!r}")

    def refresh(self) -> Credentials:
        return Credentials.parse(self._secret.read(force=True), f"secret {self._secret.secret_id!r}")


class SecretsManagerWebhookSecrets:
    """`{"path_token", "hmac_key"}` from WEBHOOK_SECRET, cached like the provider credentials."""

    def __init__(self, secret: JsonSecret) -> None:
        self._secret = secret

    def current(self) -> WebhookSecret:
        try:
            return WebhookSecret.model_validate(self._secret.read())
        except ValidationError:
            raise ConfigurationError(
                f"secret {self._secret.secret_id!r} needs path_token and hmac_key of 16+ characters"
            ) from None
