"""What every webhook request must pass before any route sees it.

Runs on the raw API Gateway event, before routing and body validation, so that a path no route
declares answers 404, a wrong path token 404 whatever the body, a forged signature 401, and nothing
unauthenticated is parsed. What each route demands is declared with the route (tuma.runtime.routes):
the gate has no list of its own.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuma.runtime.routes import BODILESS, Auth
from tuma.security.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

if TYPE_CHECKING:
    from tuma.models.webhook_secret import WebhookSecret
    from tuma.ports import WebhookSecrets
    from tuma.runtime.routes import Matched, Routes

# No caller of these routes nests more than a few levels (Daraja's STK callback: four).
MAX_DEPTH = 32


@dataclass(frozen=True)
class Rejection:
    status: int
    error: str
    allow: str | None = None  # the methods a 405 names

    def response(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "headers": {"Content-Type": "application/json"} | ({"Allow": self.allow} if self.allow else {}),
            "body": json.dumps({"error": self.error}),
            "isBase64Encoded": False,
        }


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The request body as sent; ValueError when API Gateway says base64 and it is not."""
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise ValueError("body is not text")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("body is marked base64 but is not valid base64") from None
    return body.encode("utf-8", "surrogatepass")


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    headers = event.get("headers") or {}
    if not isinstance(headers, Mapping):
        return {}
    return {str(k).lower(): str(v) for k, v in headers.items() if v is not None}


class WebhookGate:
    def __init__(
        self,
        routes: Routes,
        secrets: WebhookSecrets,
        max_body: int = 64 * 1024,
        clock: Callable[[], float] = time.time,
    ):
        self._routes = routes
        self._secrets = secrets
        self._max_body = max_body
        self._clock = clock

    def check(self, event: Mapping[str, Any]) -> Rejection | None:
        path = str(event.get("path") or "")
        declared = self._routes.match(path)
        if declared is None:
            return Rejection(404, "not found")  # before any handler: nothing undeclared runs
        method = str(event.get("httpMethod") or "").upper()
        secret = self._secrets.current()
        if not _token_fits(declared, secret):
            return Rejection(404, "not found")  # indistinguishable from a path that does not exist
        route = declared.route_for(method)
        if route is None:
            methods = declared.methods
            return Rejection(405, f"method not allowed: use {' or '.join(methods)}", allow=", ".join(methods))
        signed = route.auth is Auth.SIGNATURE
        if method in BODILESS:
            # What is signed is the path itself, so that a captured signature answers for that
            # resource only (GET or DELETE /messages/{key}).
            return self._check_signature(event, secret, path.encode()) if signed else None
        return self._check_body(event, secret if signed else None)

    def _check_body(self, event: Mapping[str, Any], signed_with: WebhookSecret | None) -> Rejection | None:
        try:
            body = raw_body(event)
        except ValueError as exc:
            return Rejection(400, str(exc))
        if len(body) > self._max_body:
            return Rejection(413, f"body is larger than {self._max_body} bytes")
        if signed_with is not None:
            refused = self._check_signature(event, signed_with, body)
            if refused:
                return refused
        return _json_problem(body)

    def _check_signature(
        self, event: Mapping[str, Any], secret: WebhookSecret, signed: bytes
    ) -> Rejection | None:
        headers = _headers(event)
        key = secret.hmac_key.get_secret_value().encode()
        problem = verify(
            key, headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER), signed, self._clock
        )
        return Rejection(401, problem) if problem else None


def _token_fits(declared: Matched, secret: WebhookSecret) -> bool:
    """A path-token route's token, compared in constant time (a route without one always fits)."""
    if not any(route.auth is Auth.PATH_TOKEN for route in declared.routes):
        return True
    return hmac.compare_digest(
        declared.parameters.get("token", "").encode("utf-8", "replace"),
        secret.path_token.get_secret_value().encode(),
    )


def _json_problem(body: bytes) -> Rejection | None:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return Rejection(400, "body is not JSON")
    except RecursionError:  # nesting deeper than the parser's stack, well within the size limit
        return Rejection(400, f"body nests deeper than {MAX_DEPTH} levels")
    if not isinstance(parsed, dict):
        return Rejection(400, "body must be a JSON object")
    if _depth(parsed) > MAX_DEPTH:
        return Rejection(400, f"body nests deeper than {MAX_DEPTH} levels")
    return None


def _depth(value: Any) -> int:
    """How deeply lists and objects nest, counted without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        deepest = max(deepest, level)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        pending.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest
