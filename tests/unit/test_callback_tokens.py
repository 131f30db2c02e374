"""Each caller's own path token (tuma.models.callback_tokens) and how the webhooks function reads it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr
from tuma.adapters.secrets import FRESH_EVERY_SECONDS, JsonSecret, SecretsManagerWebhookSecrets
from tuma.models.callback_tokens import CallbackToken, Caller

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class CountingSecrets:
    """Secrets Manager's GetSecretValue, counted: what a cold read and a forced read cost."""

    def __init__(self, values: dict[str, dict[str, Any]]) -> None:
        self.values = values
        self.reads = 0

    def get_secret_value(self, SecretId: str) -> dict[str, str]:  # noqa: N803 - boto3's spelling
        self.reads += 1
        return {"SecretString": json.dumps(self.values[SecretId])}


def test_a_rotation_keeps_the_previous_and_the_legacy_token_for_the_grace_only() -> None:
    first = CallbackToken(token=SecretStr("a" * 40), legacy=True)
    assert first.accepts("a" * 40, NOW) and first.accepts("legacy-token-16+", NOW, "legacy-token-16+")
    assert not first.accepts("b" * 40, NOW, "legacy-token-16+")
    second = first.rotated("b" * 40, NOW, timedelta(hours=2), "legacy-token-16+")
    assert not second.legacy
    for token in ("a" * 40, "b" * 40, "legacy-token-16+"):
        assert second.accepts(token, NOW + timedelta(hours=1), "legacy-token-16+"), token
    later = NOW + timedelta(hours=2, seconds=1)
    assert second.accepts("b" * 40, later) and not second.accepts("a" * 40, later)
    assert not second.accepts("legacy-token-16+", later, "legacy-token-16+")
    assert CallbackToken.model_validate(second.stored()) == second  # stored as it reads back


def test_a_token_too_short_to_be_a_secret_is_refused() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        CallbackToken(token=SecretStr("short"))


def test_a_token_just_rotated_works_at_once_and_wrong_tokens_cannot_hammer_secrets_manager() -> None:
    client = CountingSecrets({"d": {"token": "a" * 40, "legacy": True}, "w": {}})
    clock = [1000.0]
    secrets = SecretsManagerWebhookSecrets(
        JsonSecret("w", client, 300),  # type: ignore[arg-type]
        {Caller.DARAJA: JsonSecret("d", client, 300)},  # type: ignore[arg-type]
        clock=lambda: clock[0],
    )
    assert secrets.callback_token(Caller.DARAJA).token.get_secret_value() == "a" * 40
    client.values["d"] = {"token": "b" * 40}  # rotated by `tuma secrets rotate daraja`
    assert secrets.callback_token(Caller.DARAJA).token.get_secret_value() == "a" * 40  # cached
    assert secrets.callback_token(Caller.DARAJA, fresh=True).token.get_secret_value() == "b" * 40
    reads = client.reads
    for _ in range(50):  # a forger's wrong tokens, each asking for a fresh read
        secrets.callback_token(Caller.DARAJA, fresh=True)
    assert client.reads == reads
    clock[0] += FRESH_EVERY_SECONDS
    secrets.callback_token(Caller.DARAJA, fresh=True)
    assert client.reads == reads + 1
