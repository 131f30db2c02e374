"""The urllib3 adapter against real sockets on loopback: what came back, and whether a request that
got no answer may have reached the server (the provider failover depends on that distinction)."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tuma.adapters.http import Urllib3Http
from tuma.models.http import HttpFailure

pytestmark = pytest.mark.integration

SECRET_PATH = "/hook/token-5d1e0c"


def _serve(behaviour: Callable[[BaseHTTPRequestHandler, bytes], None]) -> Iterator[ThreadingHTTPServer]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            behaviour(self, body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.handle_error = lambda *args: None  # type: ignore[method-assign]  # clients that gave up
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _url(server: ThreadingHTTPServer, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{server.server_address[1]}{SECRET_PATH}"


def _answer(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    for name, value in (headers | {"Content-Length": str(len(body))}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def test_the_body_and_headers_go_as_given_and_the_answer_comes_back_whole() -> None:
    seen: list[tuple[bytes, str, str]] = []

    def echo(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        seen.append((body, handler.headers["Content-Type"], handler.headers["X-Tuma-Event-Id"]))
        _answer(handler, 201, b'{"ok":true}')

    for server in _serve(echo):
        http = Urllib3Http(1.0, 2.0)
        answer = http.post(
            _url(server), b'{"a":1}', {"Content-Type": "application/json", "X-Tuma-Event-Id": "e1"}
        )
        again = http.post(_url(server), b"{}", {"Content-Type": "application/json", "X-Tuma-Event-Id": "e2"})
    assert (answer.status, answer.content, again.status) == (201, b'{"ok":true}', 201)
    assert seen == [(b'{"a":1}', "application/json", "e1"), (b"{}", "application/json", "e2")]


def test_a_redirect_is_an_answer_not_followed() -> None:
    calls: list[str] = []

    def redirect(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        calls.append(handler.path)
        _answer(handler, 302, b"", Location="http://127.0.0.1:9/elsewhere")

    for server in _serve(redirect):
        assert Urllib3Http(1.0, 2.0).post(_url(server), b"{}", {}).status == 302
    assert calls == [SECRET_PATH]


def test_nothing_listening_was_certainly_not_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed when the block ends: nothing listens there
    with pytest.raises(HttpFailure) as failure:
        Urllib3Http(1.0, 2.0).post(f"http://127.0.0.1:{port}{SECRET_PATH}", b"{}", {})
    assert failure.value.maybe_sent is False
    assert "token" not in str(failure.value) and failure.value.__cause__ is None
    assert failure.value.__suppress_context__


def test_no_answer_in_time_may_have_been_acted_on() -> None:
    def slow(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        time.sleep(1.5)
        _answer(handler, 200, b"{}")

    for server in _serve(slow):
        with pytest.raises(HttpFailure) as failure:
            Urllib3Http(1.0, 0.3).post(_url(server), b"{}", {})
    assert (failure.value.kind, failure.value.maybe_sent) == ("ReadTimeoutError", True)


def test_a_connection_dropped_after_the_request_may_have_been_acted_on() -> None:
    def hang_up(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    for server in _serve(hang_up):
        with pytest.raises(HttpFailure) as failure:
            Urllib3Http(1.0, 2.0).post(_url(server), b"{}", {})
    assert failure.value.maybe_sent is True
    assert "token" not in failure.value.kind


def test_a_certificate_nobody_vouches_for_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    received: list[bytes] = []
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def record(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        received.append(body)
        _answer(handler, 200, b"{}")

    for server in _serve(record):
        server.socket = context.wrap_socket(server.socket, server_side=True)
        with pytest.raises(HttpFailure) as failure:
            Urllib3Http(1.0, 2.0).post(_url(server, "https"), b'{"apikey":"k"}', {})
    assert (failure.value.kind, failure.value.maybe_sent) == ("SSLError", False)
    assert received == []


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
