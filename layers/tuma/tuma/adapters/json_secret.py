"""A JSON secret in Secrets Manager, read through Powertools Parameters and cached."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuma.config import ConfigurationError

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
