"""Daraja's OAuth token, shared: fetched once, used until just before it expires.

Tuma's callers (the pull job, the CLI, the console) keep it in memory: it is a bearer token for
every payer's data for its hour, so no table holds it (issue 31). With a store, callers share it
instead: each reads it from the store first, and when it must be fetched one caller takes a short
lease (a conditional write) while the others wait for its token, so that a burst of cold starts never
stampedes the OAuth endpoint. It is never logged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuma.security.redaction import register_secret

if TYPE_CHECKING:
    from tuma.ports import StateStore

# Renewed this long before Daraja says it expires: a call made with it must still find it valid.
MARGIN_SECONDS = 120
LEASE_SECONDS = 10.0  # how long one caller may take to fetch before another may try


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float  # unix seconds

    def fresh(self, now: float) -> bool:
        return now < self.expires_at - MARGIN_SECONDS


class TokenCache:
    def __init__(
        self,
        fetch: Callable[[], Token],
        store: StateStore | None = None,
        *,
        name: str = "daraja-token",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._fetch = fetch
        self._store = store
        self._name = name
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._token: Token | None = None
        self.fetched = 0  # tokens this process asked Daraja for

    def get(self) -> str:
        with self._lock:
            now = self._clock()
            if self._token is None or not self._token.fresh(now):
                self._token = self._shared(now)
            return self._token.value

    def invalidate(self, value: str) -> None:
        """Daraja refused this token (401): forget it, here and in the store, unless already replaced."""
        with self._lock:
            if self._token is not None and self._token.value == value:
                self._token = None
            if self._store is not None:
                document = self._store.read(self._name)
                if document and document.get("token") == value:
                    self._store.swap(self._name, document, {"expires_at": 0})

    def _shared(self, now: float) -> Token:
        if self._store is None:
            return self._new()
        deadline = now + LEASE_SECONDS
        while True:
            document = self._store.read(self._name)
            stored = _token_of(document)
            if stored is not None and stored.fresh(now):
                register_secret(stored.value)
                return stored
            lease_until = float((document or {}).get("lease_until", 0))
            if lease_until <= now and self._store.swap(
                self._name, document, {"expires_at": 0, "lease_until": now + LEASE_SECONDS}
            ):
                token = self._new()
                self._store.write(self._name, {"token": token.value, "expires_at": token.expires_at})
                return token
            if now >= deadline:
                return self._new()  # the lease holder is gone: fetch rather than wait for ever
            self._sleep(0.25)
            now = self._clock()

    def _new(self) -> Token:
        token = self._fetch()
        self.fetched += 1
        register_secret(token.value)
        return token


def _token_of(document: dict[str, object] | None) -> Token | None:
    if not document or not isinstance(document.get("token"), str):
        return None
    try:
        return Token(str(document["token"]), float(str(document.get("expires_at", 0))))
    except ValueError:
        return None
