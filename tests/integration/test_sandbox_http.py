"""The simulator over HTTP: callbacks, GET requests, fault kinds, outbox control."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tuma_cli.sandbox.server import SandboxServer

pytestmark = pytest.mark.integration


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]], threading.Event]]:
    received: list[dict[str, Any]] = []
    done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            done.set()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/delivery-reports/token", received, done
    server.shutdown()


def _auth(sandbox: SandboxServer) -> dict[str, str]:
    return {"apikey": sandbox.platform.settings.apikey, "partnerID": sandbox.platform.settings.partner_id}


def test_delivery_reports_are_posted_to_the_callback_url(
    sandbox: SandboxServer, receiver: tuple[str, list[dict[str, Any]], threading.Event]
) -> None:
    url, received, done = receiver
    httpx.post(f"{sandbox.url}/_sandbox/config", json={"callback_url": url}).raise_for_status()
    answer = httpx.post(
        f"{sandbox.url}/api/services/sendsms",
        json=_auth(sandbox) | {"shortcode": "TUMA", "message": "hi", "mobile": "254712345403"},
    ).json()
    assert done.wait(5)
    [report] = received
    assert report["messageid"] == str(answer["responses"][0]["messageid"])
    assert report["description"] == "SenderName Blacklisted"
    assert set(report) == {"description", "messageid", "timeTaken", "timestamp"}


def test_get_requests_work_like_post(sandbox: SandboxServer) -> None:
    params = _auth(sandbox) | {"shortcode": "TUMA", "message": "hi", "mobile": "254712345678"}
    answer = httpx.get(f"{sandbox.url}/api/services/sendsms/", params=params).json()
    assert answer["responses"][0]["response-code"] == 200


def test_fault_kinds_look_like_their_real_counterparts(sandbox: SandboxServer) -> None:
    client = httpx.Client(timeout=httpx.Timeout(0.5))
    body = _auth(sandbox)

    def fault(kind: str) -> None:
        httpx.post(f"{sandbox.url}/_sandbox/faults", json={"count": 1, "kinds": [kind], "slow_seconds": 1.0})

    fault("5xx")
    answer = client.post(f"{sandbox.url}/api/services/getbalance", json=body)
    assert answer.status_code == 502 and "html" in answer.headers["content-type"]
    fault("empty")
    assert client.post(f"{sandbox.url}/api/services/getbalance", json=body).content == b""
    fault("4090")
    assert client.post(f"{sandbox.url}/api/services/getbalance", json=body).json()["response-code"] == 4090
    fault("drop")
    with pytest.raises(httpx.TransportError):
        client.post(f"{sandbox.url}/api/services/getbalance", json=body)
    fault("slow")
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            f"{sandbox.url}/api/services/sendsms",
            json=body | {"shortcode": "TUMA", "message": "slow", "mobile": "254712345678"},
        )
    # The caller gave up before the platform was reached: nothing was sent.
    import time

    time.sleep(1.2)
    assert sandbox.platform.outbox_view() == []
    assert client.post(f"{sandbox.url}/api/services/getbalance", json=body).json()["response-code"] == 200


def test_outbox_can_be_cleared(sandbox: SandboxServer) -> None:
    import time

    before = time.time()
    httpx.post(
        f"{sandbox.url}/api/services/sendsms",
        json=_auth(sandbox) | {"shortcode": "TUMA", "message": "hi", "mobile": "254712345678"},
    )
    [sms] = httpx.get(f"{sandbox.url}/_sandbox/outbox").json()
    # When it was accepted, finer than `time`: what bench/latency.py measures against.
    assert before <= sms["accepted_at"] <= time.time() and "sent_at" not in sms
    httpx.delete(f"{sandbox.url}/_sandbox/outbox")
    assert httpx.get(f"{sandbox.url}/_sandbox/outbox").json() == []
