"""API Gateway, locally: HTTP requests become REST proxy events for the routes template.yaml declares."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tuma_cli.local.events import rest_proxy_event
from tuma_cli.loopback import LoopbackHandler, LoopbackServer

log = logging.getLogger(__name__)
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit


@dataclass(frozen=True)
class ApiRoute:
    method: str
    resource: str  # as in the template: /payments/stk/{token}
    function: str
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, method: str, resource: str, function: str) -> ApiRoute:
        regex = re.sub(r"\\\{(\w+)(?:\\\+)?\\\}", r"(?P<\1>[^/]+)", re.escape(resource.rstrip("/") or "/"))
        return cls(method.upper(), resource, function, re.compile(f"^{regex}/?$"))


class _Server(LoopbackServer):
    front: ApiFront


class _Handler(LoopbackHandler):
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.reply(413, b'{"message": "Request Too Long"}', {"Content-Type": "application/json"})
            return
        body = self.rfile.read(length) if length else None
        status, payload, headers = self.server.front.dispatch(
            self.command, self.path, dict(self.headers.items()), body, self.client_address[0]
        )
        self.reply(status, payload, headers)

    # API Gateway's ANY: every method it supports reaches the route's function.
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle  # noqa: N815

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A method API Gateway does not support (TRACE, CONNECT...) or a malformed request: answered
        as API Gateway answers what it has no integration for, not with the stdlib's HTML page."""
        # Its body is never read: on a kept-alive connection it would be taken for the next request.
        self.close_connection = True
        if code == 501:
            self.reply(
                403, b'{"message": "Missing Authentication Token"}', {"Content-Type": "application/json"}
            )
            return
        body = json.dumps({"message": message or "Bad Request"}).encode()
        self.reply(code, body, {"Content-Type": "application/json"})


STAGE = "/v1"  # template.yaml's WebhooksApi StageName


class ApiFront:
    def __init__(
        self, routes: list[ApiRoute], invoke: Callable[[str, dict[str, Any]], Any], port: int = 3000
    ) -> None:
        self.routes = routes
        self._invoke = invoke
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.front = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="api-front", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> ApiFront:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def dispatch(
        self, method: str, target: str, headers: dict[str, str], body: bytes | None, source_ip: str
    ) -> tuple[int, bytes, dict[str, str]]:
        split = urlsplit(target)
        # The deployed API's URLs carry the stage (/v1/payments); here both forms are served, and
        # requestContext.path is the path as sent, which is what a request's signature covers.
        path = split.path[len(STAGE) :] if split.path.startswith(STAGE + "/") else split.path
        for route in self.routes:
            match = route.pattern.match(path)
            if match and route.method in (method.upper(), "ANY"):
                event = rest_proxy_event(
                    method,
                    path,
                    sent_path=split.path,
                    resource=route.resource,
                    path_parameters=match.groupdict() or None,
                    headers=headers,
                    body=body,
                    query=parse_qs(split.query, keep_blank_values=True),  # as API Gateway keeps `?provider=`
                    source_ip=source_ip,
                )
                try:
                    response = self._invoke(route.function, event)
                except Exception:
                    log.exception("%s failed", route.function)
                    return 502, b'{"message": "Internal server error"}', {"Content-Type": "application/json"}
                return _http_response(response)
        # What API Gateway answers for a path or method it has no integration for.
        return 403, b'{"message": "Missing Authentication Token"}', {"Content-Type": "application/json"}


def _http_response(response: Any) -> tuple[int, bytes, dict[str, str]]:
    if not isinstance(response, dict) or "statusCode" not in response:
        return 502, b'{"message": "Internal server error"}', {"Content-Type": "application/json"}
    body = response.get("body") or ""
    raw = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode()
    headers = {k: str(v) for k, v in (response.get("headers") or {}).items()}
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers[key] = ", ".join(str(v) for v in values)
    headers.setdefault("Content-Type", "application/json")
    return int(response["statusCode"]), raw, headers


def routes_from(functions: dict[str, Any]) -> list[ApiRoute]:
    """Every `Type: Api` event of every function, as (method, resource) -> function."""
    routes = []
    for name, spec in functions.items():
        for event in spec.events.values():
            if event.get("Type") == "Api":
                props = event.get("Properties") or {}
                routes.append(ApiRoute.of(str(props.get("Method", "ANY")), str(props["Path"]), name))
    # Literal paths before parameterised ones, as API Gateway prefers the most specific resource.
    return sorted(routes, key=lambda r: (r.resource.count("{"), -len(r.resource)))
