"""JSON secrets in Secrets Manager, cached for `max_age` seconds: the provider's credentials and the
webhook secret.

A GetSecretValue and a clock, rather than Powertools Parameters: Parameters imports boto3, which
costs every cold start about 150 ms (bench/cold_start.py), and all it would add here is this cache.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from tuma.errors import ConfigurationError
from tuma.models.webhook_secret import WebhookSecret
from tuma.ports import ApiKeys, CredentialSource, WebhookSecrets

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from tuma.models.api_keys import ApiKey
    from tuma.models.callback_tokens import CallbackToken, Caller
    from tuma.models.provider_credentials import Credentials

log = logging.getLogger(__name__)


class JsonSecret:
    def __init__(
        self,
        secret_id: str,
        client: SecretsManagerClient,
        max_age: int = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret_id = secret_id
        self._client = client
        self._max_age = max_age
        self._clock = clock
        self._value: dict[str, Any] | None = None
        self._read_at = 0.0

    def read(self, force: bool = False) -> dict[str, Any]:
        if self._value is not None and not force and self._clock() - self._read_at < self._max_age:
            return self._value
        try:
            raw = self._client.get_secret_value(SecretId=self.secret_id).get("SecretString", "")
        except (ClientError, BotoCoreError) as exc:
            # The error names the call and the reason, never the secret's value.
            raise ConfigurationError(f"cannot read secret {self.secret_id!r}: {type(exc).__name__}") from exc
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise ConfigurationError(f"secret {self.secret_id!r} is not a JSON object")
        self._value, self._read_at = value, self._clock()
        return value


class SecretsManagerCredentials(CredentialSource):
    """`{"apikey", "partnerID", "shortcode"}`, cached; `refresh` re-reads after a key rotation."""

    def __init__(self, secret: JsonSecret) -> None:
        self._secret = secret

    def get(self) -> Credentials:
        return self._parse(self._secret.read())

    def refresh(self) -> Credentials:
        return self._parse(self._secret.read(force=True))

    def _parse(self, value: dict[str, Any]) -> Credentials:
        # Here rather than at the top: the webhooks function reads only its own secret through this
        # module, and the credentials' model would be built at each of its cold starts for nothing.
        from tuma.models.provider_credentials import Credentials

        return Credentials.parse(value, f"secret {self._secret.secret_id!r}")


FRESH_EVERY_SECONDS = 30
NEW_KEY_EVERY_SECONDS = 10


class SecretsManagerWebhookSecrets(WebhookSecrets):
    """`{"path_token"}` from WEBHOOK_SECRET, and each caller's path token from its own
    secret (DARAJA_CALLBACK_SECRET, PROVIDER_CALLBACK_SECRET), cached like the provider credentials."""

    def __init__(
        self,
        secret: JsonSecret,
        callers: Mapping[Caller, JsonSecret] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret = secret
        self._callers = dict(callers or {})
        self._clock = clock
        self._fresh_at: dict[Caller, float] = {}

    def callback_token(self, caller: Caller, fresh: bool = False) -> CallbackToken:
        from tuma.models.callback_tokens import CallbackToken

        secret = self._callers.get(caller)
        if secret is None:
            raise ConfigurationError(f"no {caller} callback secret is configured")
        # A token just rotated works at once; a stream of wrong tokens reads the secret at most
        # twice a minute.
        force = fresh and self._clock() - self._fresh_at.get(caller, float("-inf")) >= FRESH_EVERY_SECONDS
        if force:
            self._fresh_at[caller] = self._clock()
        try:
            return CallbackToken.model_validate(secret.read(force=force))
        except ValidationError:
            raise ConfigurationError(
                f"secret {secret.secret_id!r} needs a token of 32+ characters (tuma secrets rotate {caller})"
            ) from None

    def current(self) -> WebhookSecret:
        try:
            return WebhookSecret.model_validate(self._secret.read())
        except ValidationError:
            raise ConfigurationError(
                f"secret {self._secret.secret_id!r} needs a path_token of 16+ characters"
            ) from None


class SecretsManagerApiKeys(ApiKeys):
    """`{"keys": [...]}` from API_KEYS_SECRET, cached `max_age` seconds: a revoked key works at most
    that long after `tuma keys revoke` (docs/design.md says so). A key that does not read is left
    out and logged by id, never the set: one hand-edited key does not lock out the others."""

    def __init__(self, secret: JsonSecret, clock: Callable[[], float] = time.monotonic) -> None:
        self._secret = secret
        self._clock = clock
        self._fresh_at = float("-inf")

    def key(self, key_id: str, fresh: bool = False) -> ApiKey | None:
        from tuma.models.api_keys import ApiKey

        # A key just made works within ten seconds; a flood of made-up key ids reads the secret at
        # most six times a minute.
        force = fresh and self._clock() - self._fresh_at >= NEW_KEY_EVERY_SECONDS
        if force:
            self._fresh_at = self._clock()
        keys = self._secret.read(force=force).get("keys")
        for raw in keys if isinstance(keys, list) else []:
            if isinstance(raw, dict) and raw.get("id") == key_id:
                try:
                    return ApiKey.model_validate(raw)
                except ValidationError as problem:
                    fields = ", ".join(".".join(map(str, e["loc"])) for e in problem.errors())
                    log.error("API key %s in %r does not read (%s)", key_id, self._secret.secret_id, fields)
                    return None
        return None


class SecretsManagerPrivacyKey:
    """`{"number_key"}` from PRIVACY_SECRET: the key of the numbers' keyed hashes, as bytes."""

    def __init__(self, secret: JsonSecret) -> None:
        self._secret = secret

    def __call__(self) -> bytes:
        from tuma.security.redaction import register_secret

        value = self._secret.read().get("number_key")
        if not isinstance(value, str) or len(value) < 32:
            raise ConfigurationError(f"secret {self._secret.secret_id!r} needs number_key of 32+ characters")
        register_secret(value)
        return value.encode()
