"""The Daraja simulator's HTTP face on loopback, plus `/_sandbox/*` to steer and inspect it.

| route                               | does                                                        |
|-------------------------------------|-------------------------------------------------------------|
| `GET /oauth/v1/generate`            | a token (Basic auth with the consumer key and secret)       |
| `POST /mpesa/c2b/{v1,v2}/registerurl` | Register URL; the second time "already registered"        |
| `POST /pulltransactions/v1/register`, `/query` | Pull: register once, then page through payments  |
| `POST /mpesa/transactionstatus/v1/query` | accepted now, answered later to its ResultURL          |
| `POST /_sandbox/payments`           | a customer paid: `{"TransID", "TransAmount", "MSISDN", "BillRefNumber", "BusinessShortCode", "FirstName", "callback": "deliver" \\| "drop" \\| "late"}` |
| `GET /_sandbox/payments`            | every payment recorded, with whether its confirmation was posted |
| `POST /_sandbox/payments` `{"payments": [...]}` | several at once; each may carry `callback_fields` and `row_fields`: what its callback and its Pull row say differently |
| `GET /_sandbox/certificate`         | `{"certificate": PEM}`: what the initiator's password is encrypted with (`tuma daraja credential --local`) |
| `GET/POST /_sandbox/config`         | read or change the settings (`late_seconds`, `page_size`, `api_product`, ...) |
| `GET/POST/DELETE /_sandbox/faults`  | `{"kind": "500" \\| "401" \\| "garbage" \\| "slow" \\| "down", "count": N}` on the API routes |
| `GET /_sandbox/stats`               | `{"requests": {PATH: COUNT}, "callbacks_posted", "callbacks_failed"}` |
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tuma_cli.daraja_sandbox.payments import Outgoing
from tuma_cli.daraja_sandbox.platform import DarajaPlatform
from tuma_cli.loopback import LoopbackHandler, LoopbackServer

log = logging.getLogger(__name__)
FAULT_KINDS = ("500", "401", "garbage", "slow", "down")


class DarajaFaults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.kind: str | None = None
        self.count = 0
        self.slow_seconds = 3.0
        self.injected = 0

    def reset(self, kind: str | None = None, count: int = 1_000_000, slow_seconds: float = 3.0) -> None:
        if kind is not None and kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        with self._lock:
            self.kind, self.count, self.slow_seconds = kind, int(count), float(slow_seconds)

    def next(self) -> str | None:
        with self._lock:
            if self.kind is None or self.count <= 0:
                return None
            self.count -= 1
            self.injected += 1
            return self.kind

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "count": self.count,
            "slow_seconds": self.slow_seconds,
            "injected": self.injected,
        }


class _Server(LoopbackServer):
    simulator: DarajaSimulator


class _Handler(LoopbackHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the stdlib dispatches on these names
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._route("DELETE")

    def _json(self, status: int, payload: Any) -> None:
        self.reply(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    def _route(self, method: str) -> None:
        simulator = self.server.simulator
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        if split.path.startswith("/_sandbox/"):
            try:
                status, payload = simulator.control(
                    method, split.path, body if isinstance(body, dict) else {}
                )
            except (ValueError, KeyError, TypeError) as exc:
                status, payload = 400, {"error": f"{type(exc).__name__}: {exc}"}
            self._json(status, payload)
            return
        fault = simulator.faults.next()
        if fault == "down":
            self.close_connection = True
            with contextlib.suppress(OSError):  # RST: the caller sees a reset connection
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if fault == "slow":
            time.sleep(simulator.faults.slow_seconds)
        if fault == "500":
            self._json(
                500,
                {"requestId": "sim", "errorCode": "500.003.1001", "errorMessage": "Internal Server Error"},
            )
            return
        if fault == "401":
            self._json(
                401, {"requestId": "sim", "errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}
            )
            return
        if fault == "garbage":
            self.reply(200, b"<html><body>Service Unavailable</body></html>", {"Content-Type": "text/html"})
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload = simulator.platform.handle(
            method, split.path, dict(parse_qsl(split.query)), headers, body
        )
        self._json(status, payload)


# Safaricom's callbacks come from addresses of their own; on one machine a second loopback address
# stands for them (Linux answers on all of 127.0.0.0/8).
CALLBACKS_FROM = "127.0.0.2"


class DarajaSimulator:
    """The simulator on a loopback port, its HTTP served and its callbacks posted from background threads."""

    def __init__(
        self,
        platform: DarajaPlatform | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        callbacks_from: str = CALLBACKS_FROM,
    ) -> None:
        """`callbacks_from`: the loopback address its callbacks come from, standing for Safaricom's
        own (the local topology allows only it: a POST from 127.0.0.1 is a forgery)."""
        self.platform = platform or DarajaPlatform()
        self.callbacks_from = callbacks_from
        self.faults = DarajaFaults()
        self.posted = 0
        self.failed = 0
        self._server = _Server((host, port), _Handler)
        self._server.simulator = self
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="daraja-http", daemon=True),
            threading.Thread(target=self._post_when_due, name="daraja-callbacks", daemon=True),
        ]

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> DarajaSimulator:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._threads[1].join(timeout=5)

    def control(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if path == "/_sandbox/payments":
            return 200, self._payments(method, body)
        if path == "/_sandbox/certificate":
            return 200, {"certificate": self.platform.credential_key.certificate_pem.decode()}
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

    def _payments(self, method: str, body: dict[str, Any]) -> Any:
        if method != "POST":
            return self.platform.payments_view()
        many = body.get("payments")
        if isinstance(many, list):  # several at once: {"payments": [{...}, ...]}
            return [self.platform.record_payment(one) for one in many]
        return self.platform.record_payment(body)

    def stats(self) -> dict[str, Any]:
        return {
            "requests": dict(self.platform.requests),
            "callbacks_posted": self.posted,
            "callbacks_failed": self.failed,
            "faults_injected": self.faults.injected,
        }

    def _post_when_due(self) -> None:
        import httpx

        transport = httpx.HTTPTransport(local_address=self.callbacks_from)
        with httpx.Client(timeout=10.0, transport=transport) as http:
            while not self._stop.is_set():
                for outgoing in self.platform.due():
                    self._post(http, outgoing)
                upcoming = self.platform.next_due()
                self._stop.wait(0.05 if upcoming is None else max(0.0, min(0.2, upcoming - time.time())))

    def _post(self, http: Any, outgoing: Outgoing) -> None:
        try:
            answer = http.post(outgoing.url, json=outgoing.body)
            ok = answer.status_code < 300
        except Exception as exc:  # the receiver is down: Daraja gives up too, which is what Pull is for
            log.info("daraja simulator: POST failed: %s", type(exc).__name__)
            ok = False
        if ok:
            self.posted += 1
        else:
            self.failed += 1
        if outgoing.payment is not None:
            outgoing.payment.posted, outgoing.payment.post_failed = ok, not ok
