"""What every webhook request must pass before any route sees it.

Runs on the raw API Gateway event, before routing and body validation, so that a path no route
declares answers 404, a wrong path token 404 whatever the body, a forged, stale or replayed
signature 401, a key without the route's scope 403, and nothing unauthenticated is parsed. What each route demands is declared with the route (tuma.runtime.routes):
the gate has no list of its own.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tuma.runtime.routes import Auth

if TYPE_CHECKING:
    from tuma.models.callback_tokens import Caller
    from tuma.ports import ApiKeys, ReplayGuard, WebhookSecrets
    from tuma.runtime.routes import Matched, Route, Routes
    from tuma.security.addresses import Addresses

# No caller of these routes nests more than a few levels (Daraja's STK callback: four).
MAX_DEPTH = 32


@dataclass(frozen=True)
class Rejection:
    status: int
    error: str
    allow: str | None = None  # the methods a 405 names
    # What the handler counts (WebhookRejected<status> when None) and, for a refused caller, what it
    # logs: the address and the route, never the path (it holds the token).
    metric: str | None = None
    refused: tuple[str, str] | None = None

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
        *,
        keys: ApiKeys,
        replay: ReplayGuard,
        max_body: int = 64 * 1024,
        clock: Callable[[], float] = time.time,
        daraja_addresses: Addresses | None = None,
    ):
        """`daraja_addresses`: where Daraja's callbacks may come from (None: nowhere)."""
        self._routes = routes
        self._secrets = secrets
        self._keys = keys
        self._replay = replay
        self._max_body = max_body
        self._clock = clock
        self._daraja_addresses = daraja_addresses

    def check(self, event: Mapping[str, Any]) -> Rejection | None:
        path = str(event.get("path") or "")
        declared = self._routes.match(path)
        if declared is None:
            return Rejection(404, "not found")  # before any handler: nothing undeclared runs
        method = str(event.get("httpMethod") or "").upper()
        caller = self._caller_problem(event, declared)
        if caller is not None:
            return caller
        route = declared.route_for(method)
        if route is None:
            methods = declared.methods
            return Rejection(405, f"method not allowed: use {' or '.join(methods)}", allow=", ".join(methods))
        return self._check_body(event, route if route.auth is Auth.SIGNATURE else None)

    def _caller_problem(self, event: Mapping[str, Any], declared: Matched) -> Rejection | None:
        """For a path-token route: where the request comes from (Daraja's), then its token. A wrong
        token is answered as a path that does not exist; a refused address is told so, and counted."""
        auths = {route.auth for route in declared.routes if route.auth.caller is not None}
        if not auths:
            return None
        [auth] = auths  # one path, one caller (tuma.runtime.routes refuses to declare otherwise)
        if auth is Auth.DARAJA:
            source = _source_ip(event)
            if self._daraja_addresses is None or not self._daraja_addresses.allows(source):
                resource = next(iter(declared.routes)).resource
                return Rejection(
                    403, "forbidden", metric="DarajaCallbacksRefused", refused=(source, resource)
                )
        assert auth.caller is not None
        given = declared.parameters.get("token", "")
        if self._token_fits(auth.caller, given) or self._token_fits(auth.caller, given, fresh=True):
            return None
        return Rejection(404, "not found")  # indistinguishable from a path that does not exist

    def _token_fits(self, caller: Caller, given: str, fresh: bool = False) -> bool:
        """`fresh`: against the secret read again (a token rotated since the cached read)."""
        token = self._secrets.callback_token(caller, fresh)
        legacy = self._secrets.current().path_token.get_secret_value() if token.legacy else None
        return token.accepts(given, datetime.fromtimestamp(self._clock(), UTC), legacy)

    def _check_body(self, event: Mapping[str, Any], signed: Route | None) -> Rejection | None:
        try:
            body = raw_body(event)
        except ValueError as exc:
            return Rejection(400, str(exc))
        if len(body) > self._max_body:
            return Rejection(413, f"body is larger than {self._max_body} bytes")
        if signed is not None:
            refused = self._check_signature(event, signed, body)
            if refused or not (body or signed.body):  # GET and DELETE carry no JSON to check
                return refused
        return _json_problem(body)

    def _check_signature(self, event: Mapping[str, Any], route: Route, body: bytes) -> Rejection | None:
        """The request's RFC 9421 signature: by a live key holding the route's scope, over this
        method, path and body, fresh, and never seen before."""
        # Loaded with the first signed request: a container that answers only Daraja and the provider
        # (the receipts' path) never parses a signature, and RFC 9421's parser is about 5 ms of a
        # cold start (bench/cold_start.py).
        from tuma.security.message_signatures import WINDOW_SECONDS, SignedRequest, read_signature, verify

        headers = _headers(event)
        signature = read_signature(headers)
        if isinstance(signature, str):
            return Rejection(401, signature)
        key = self._keys.key(signature.key_id) or self._keys.key(signature.key_id, fresh=True)
        if key is None:
            return Rejection(401, f"no API key {signature.key_id!r}: never made, or revoked")
        now = self._clock()
        request = SignedRequest(route.method, _sent_path(event), "", headers, body)
        problem = verify(signature, request, key.secret.get_secret_value().encode(), now)
        if problem is None and not key.live(datetime.fromtimestamp(now, UTC)):
            problem = f"API key {key.id} has expired"
        if problem is not None:
            return Rejection(401, problem)
        if route.scope not in key.scopes:
            return Rejection(403, f"API key {key.id} does not hold the {route.scope} scope")
        # Remembered for as long as the signature could pass the window check, and a minute more.
        if not self._replay.first_use(f"{key.id}#{signature.nonce}", signature.created + WINDOW_SECONDS + 60):
            return Rejection(
                401, "this signature was already used: sign every request anew, with a new nonce"
            )
        return None


def _sent_path(event: Mapping[str, Any]) -> str:
    """The path as the client sent it (percent-encoded, with the stage): API Gateway's
    requestContext.path. The event's own `path` has neither, and is no good for @path."""
    context = event.get("requestContext")
    sent = context.get("path") if isinstance(context, Mapping) else None
    return str(sent) if isinstance(sent, str) and sent else str(event.get("path") or "")


def _source_ip(event: Mapping[str, Any]) -> str:
    """The address API Gateway saw the connection come from; never a header the caller wrote."""
    context = event.get("requestContext")
    identity = context.get("identity") if isinstance(context, Mapping) else None
    source = identity.get("sourceIp") if isinstance(identity, Mapping) else None
    return str(source or "")


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
