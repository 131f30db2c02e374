"""The path tokens of the callers that cannot sign: Daraja and the SMS provider, one secret each.

Each is made by Secrets Manager (random, never derived from anything in the account) and rotated by
`tuma secrets rotate daraja|provider`: the new token takes over at once, and the previous one stays
accepted until its `until`, so that the caller can be moved to the new URL without a lost callback.

A stack created before these secrets existed sent both callers to URLs holding the webhook secret's
`path_token` (the stack id's UUID, which anyone who reads the account's tags can see). `legacy: true`
keeps that token accepted until the first rotation; `tuma doctor` says so until then.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tuma.security.redaction import register_secret

MIN_LENGTH = 32


class Caller(StrEnum):
    """Who posts to a path-token route; each has a secret of its own."""

    DARAJA = "daraja"
    PROVIDER = "provider"


class Retiring(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    token: SecretStr = Field(min_length=16)
    until: datetime


class CallbackToken(BaseModel):
    """One caller's secret: `{"token", "previous": [{"token", "until"}], "legacy"}`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    token: SecretStr = Field(min_length=MIN_LENGTH)
    previous: tuple[Retiring, ...] = ()
    legacy: bool = False

    def model_post_init(self, __context: Any) -> None:
        register_secret(self.token.get_secret_value())
        for old in self.previous:
            register_secret(old.token.get_secret_value())

    def accepts(self, candidate: str, now: datetime, legacy_token: str | None = None) -> bool:
        """The token in a request's path, compared in constant time with every token still valid."""
        valid = [self.token.get_secret_value()]
        valid += [old.token.get_secret_value() for old in self.previous if old.until > now]
        if self.legacy and legacy_token:
            valid.append(legacy_token)
        given = candidate.encode("utf-8", "replace")
        # Every comparison is made, so the time taken does not say which token came close.
        return any([hmac.compare_digest(given, token.encode()) for token in valid])  # noqa: C419

    def rotated(
        self, new_token: str, now: datetime, grace: timedelta, legacy_token: str | None = None
    ) -> CallbackToken:
        """The secret after a rotation: `new_token` takes over; the current token (and the legacy
        one, while it was accepted) stay accepted for `grace`; tokens whose grace is over are dropped."""
        until = now + grace
        retiring = [Retiring(token=self.token, until=until)]
        if self.legacy and legacy_token:
            retiring.append(Retiring(token=SecretStr(legacy_token), until=until))
        still = [old for old in self.previous if old.until > now]
        return CallbackToken(token=SecretStr(new_token), previous=(*retiring, *still), legacy=False)

    def stored(self) -> dict[str, Any]:
        """As the secret keeps it (the tokens in clear: it is the secret)."""
        return {
            "token": self.token.get_secret_value(),
            "previous": [
                {"token": old.token.get_secret_value(), "until": old.until.isoformat()}
                for old in self.previous
            ],
            "legacy": self.legacy,
        }
