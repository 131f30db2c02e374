"""HTTP over urllib3: the provider's API, Daraja's, and the business's status callback.

urllib3 is the library botocore already loads in every function, so this adapter adds nothing to a
cold start; httpx's import and client cost 95-145 ms of each provider-calling function's init here
(bench/cold_start.py, issue 11). Certificates come from certifi's bundle, as they did with httpx,
loaded once per process at the first request rather than at init.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, LocationValueError, SSLError

from tuma.models.http import HttpAnswer, HttpFailure
from tuma.ports import Http


class Urllib3Http(Http):
    """One keep-alive pool per process: a new TLS handshake per call would cost ~30 ms each."""

    def __init__(self, connect_timeout: float, read_timeout: float, *, max_connections: int = 10) -> None:
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._max_connections = max_connections
        self._pool: urllib3.PoolManager | None = None

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
        return self._request("POST", url, body, headers)

    def get(self, url: str, headers: Mapping[str, str]) -> HttpAnswer:
        return self._request("GET", url, None, headers)

    def _request(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> HttpAnswer:
        try:
            answer = self._manager().request(
                method, url, body=body, headers=dict(headers), redirect=False, retries=False
            )
        except HTTPError as exc:
            # `from None`: urllib3's exceptions carry the URL, which may hold a token.
            raise HttpFailure(type(exc).__name__, maybe_sent=not _never_sent(exc)) from None
        return HttpAnswer(answer.status, answer.data)

    def _manager(self) -> urllib3.PoolManager:
        if self._pool is None:
            import certifi

            self._pool = urllib3.PoolManager(
                maxsize=self._max_connections,
                timeout=self._timeout,
                retries=False,
                ssl_context=ssl.create_default_context(cafile=certifi.where()),
            )
        return self._pool


def _never_sent(exc: HTTPError) -> bool:
    """True when the request cannot have been written: no connection, or a certificate refused at
    the handshake. Every other failure (read timeout, reset, TLS error mid-answer) may follow a
    request the server acted on."""
    if isinstance(exc, ConnectTimeoutError | LocationValueError):  # NewConnectionError is one too
        return True
    if isinstance(exc, SSLError):
        cause = exc.args[0] if exc.args else None
        return isinstance(cause, ssl.SSLCertVerificationError)
    return False
