"""The simulator's HTTP face: the provider's API on loopback, plus `/_sandbox/*` to inspect and steer it.

| route                          | does                                                            |
|--------------------------------|-----------------------------------------------------------------|
| `GET/POST /api/services/{ep}`  | the provider API (`sendsms`, `sendbulk`, `sendotp`, `getdlr`, `getbalance`) |
| `GET /_sandbox/outbox`         | every accepted message                                          |
| `DELETE /_sandbox/outbox`      | forget them (and the request counters)                          |
| `GET/POST /_sandbox/config`    | read or change apikey, partner_id, shortcode, credit, limits, `dlr_delay`, `callback_url`, `dialect` |
| `GET/POST/DELETE /_sandbox/faults` | read, set (`rate`, `kinds`, `count`, `slow_seconds`, `seed`) or clear fault injection |
| `GET /_sandbox/stats`          | API requests by endpoint, faults injected, callbacks posted    |
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import struct
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tuma_cli.loopback import LoopbackHandler, LoopbackServer
from tuma_cli.sandbox.callbacks import CallbackPoster
from tuma_cli.sandbox.faults import FaultPlan
from tuma_cli.sandbox.platform import SmsPlatform

log = logging.getLogger(__name__)
API_PREFIX = "/api/services/"
MAX_BODY = 5 * 1024 * 1024


class _Server(LoopbackServer):
    sandbox: SandboxServer


class _Handler(LoopbackHandler):
    server: _Server

    # -- plumbing --------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.reply(status, body, {"Content-Type": content_type})

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode())

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _params(self, raw: bytes) -> Any:
        query = dict(parse_qsl(urlsplit(self.path).query))
        if not raw:
            return query
        if "application/x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
            return query | dict(parse_qsl(raw.decode("utf-8", "replace")))
        return json.loads(raw)

    def _drop(self) -> None:
        # SO_LINGER 0 makes close() send RST: the caller sees a reset, as with a dying proxy.
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _caller_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    # -- routes ----------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - the stdlib dispatches on these names
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._route("DELETE")

    def _route(self, method: str) -> None:
        sandbox = self.server.sandbox
        path = urlsplit(self.path).path
        try:
            raw = self._body()
        except ValueError:
            self._json(413, {"error": "body too large"})
            return
        if path.startswith(API_PREFIX):
            self._api(path[len(API_PREFIX) :].strip("/"), raw)
            return
        try:
            status, payload = sandbox.control(method, path, json.loads(raw) if raw else {})
        except (ValueError, KeyError, TypeError) as exc:
            status, payload = 400, {"error": f"{type(exc).__name__}: {exc}"}
        self._json(status, payload)

    def _api(self, endpoint: str, raw: bytes) -> None:
        sandbox = self.server.sandbox
        fault = sandbox.faults.next()
        if fault == "5xx":
            self._send(
                502,
                b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
                "text/html",
            )
            return
        if fault == "empty":
            self._send(200, b"")
            return
        if fault == "drop":
            self._drop()
            return
        if fault in ("4090", "1005"):
            descriptions = {
                "4090": "Internal Error. Try again after 5 minutes",
                "1005": "Failed. System error",
            }
            self._json(200, {"response-code": int(fault), "response-description": descriptions[fault]})
            return
        if fault == "slow":
            time.sleep(sandbox.faults.slow_seconds)
            if self._caller_gone():
                self.close_connection = True
                return
        try:
            params = self._params(raw)
        except (ValueError, UnicodeDecodeError):
            self._json(200, {"response-code": 1009, "response-description": "Unsupported data type"})
            return
        answer = sandbox.platform.handle(endpoint, params)
        for message in answer.scheduled:
            sandbox.callbacks.schedule(message)
        if fault == "lost":
            self._drop()
            return
        self._json(answer.status, answer.body)


class SandboxServer:
    """The simulator on a loopback port, served from a background thread."""

    def __init__(
        self,
        platform: SmsPlatform | None = None,
        faults: FaultPlan | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        duplicate_callbacks: bool = False,
    ) -> None:
        self.platform = platform or SmsPlatform()
        self.faults = faults or FaultPlan()
        self.callbacks = CallbackPoster(
            lambda: self.platform.settings.callback_url, lambda: duplicate_callbacks
        )
        self._server = _Server((host, port), _Handler)
        self._server.sandbox = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-http", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SandboxServer:
        self.callbacks.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.callbacks.stop()

    def control(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """The `/_sandbox/*` routes: inspect and steer the simulator."""
        if path == "/_sandbox/outbox":
            if method == "DELETE":
                self.platform.clear()
                return 200, {"cleared": True}
            return 200, self.platform.outbox_view()
        if path == "/_sandbox/config":
            return 200, self.platform.configure(body) if method == "POST" else self.platform.describe()
        if path == "/_sandbox/faults":
            if method == "POST":
                self.faults.reset(**body)
            elif method == "DELETE":
                self.faults.reset()
            return 200, self.faults.describe()
        if path == "/_sandbox/stats":
            return 200, self.stats()
        if path == "/_sandbox/health":
            return 200, {"ok": True}
        return 404, {"error": "not found"}

    def stats(self) -> dict[str, Any]:
        return {
            "requests": dict(self.platform.requests),
            "faults": self.faults.describe()["injected"],
            "callbacks_posted": self.callbacks.posted,
            "callbacks_failed": self.callbacks.failed,
            "callbacks_pending": self.callbacks.pending(),
        }
