"""Keys a business can hand out, through `tuma local up` and `tuma keys`: each key is worth its
scopes, a signature its one request, once; a rotation keeps both keys working, then only the new."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Local, running_local, tuma_local
from tuma_cli.api_signing import ApiKeyCredentials, signature_headers

pytestmark = pytest.mark.e2e
NUMBER = "0712345678"


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Local, Path]]:
    ready = tmp_path_factory.mktemp("keys") / "ready.json"
    with running_local(ready_file=ready) as running:
        yield running, ready


def _create(ready: Path, *scopes: str, name: str = "") -> ApiKeyCredentials:
    arguments = [a for scope in scopes for a in ("--scope", scope)]
    made = tuma_local(ready, "keys", "create", *arguments, "--name", name, "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["key"]
    assert key["scopes"] == sorted(scopes) and key["name"] == name
    return ApiKeyCredentials(key["id"], key["secret"])


def _send(local: Local, key: ApiKeyCredentials, method: str, path: str, body: Any = None) -> httpx.Response:
    raw = None if body is None else json.dumps(body).encode()
    url = local.url("/v1" + path)
    headers = signature_headers(key, method, url, raw) | ({"Content-Type": "application/json"} if raw else {})
    return httpx.request(method, url, content=raw, headers=headers, timeout=30)


def test_during_a_rotation_both_keys_work_then_only_the_new_one(local: tuple[Local, Path]) -> None:
    running, ready = local
    old = _create(ready, "alerts", name="pager")
    assert _send(running, old, "POST", "/alerts", {"id": "r1", "title": "before"}).status_code == 202
    rotated = tuma_local(ready, "keys", "rotate", old.key_id, "--grace", "0.006", "--json")  # 22 s
    assert rotated.returncode == 0, rotated.stderr
    document = json.loads(rotated.stdout)
    new = ApiKeyCredentials(document["key"]["id"], document["key"]["secret"])
    assert document["previous"] == old.key_id and document["key"]["scopes"] == ["alerts"]
    # A new key is read within ten seconds (the key set is read again at most that often).
    running.wait_for(
        lambda: _send(running, new, "POST", "/alerts", {"id": "r2", "title": "new key"}).status_code == 202,
        timeout=40,
        what="the new key to work",
    )
    assert (
        _send(running, old, "POST", "/alerts", {"id": "r3", "title": "old key, in grace"}).status_code == 202
    )
    until = datetime.fromisoformat(document["previous_works_until"])
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 1)
    late = _send(running, old, "POST", "/alerts", {"id": "r4", "title": "old key, too late"})
    assert late.status_code == 401 and "expired" in late.json()["error"]
    assert _send(running, new, "POST", "/alerts", {"id": "r5", "title": "new key, still"}).status_code == 202
    text = tuma_local(ready, "keys", "rotate", new.key_id).stdout
    assert f"Change the holder of {new.key_id}" in text and "Shown once" in text


def test_a_key_with_the_alerts_scope_cannot_send_receipts_or_lift_an_opt_out(
    local: tuple[Local, Path],
) -> None:
    running, ready = local
    alerts = _create(ready, "alerts", name="Grafana alerts")
    running.wait_for(
        lambda: (
            _send(running, alerts, "POST", "/alerts", {"id": "k1", "title": "Disk full"}).status_code == 202
        ),
        timeout=40,
        what="the new key to work",
    )
    for path, body in (
        ("/payments", {"reference": "QKSCOPE001", "amount": "50000", "phone": NUMBER}),
        ("/suppressions/remove", {"number": NUMBER}),
    ):
        refused = _send(running, alerts, "POST", path, body)
        assert refused.status_code == 403, refused.text
        assert "scope" in refused.json()["error"]
    listed = json.loads(tuma_local(ready, "keys", "list", "--json").stdout)["keys"]
    assert {"id": alerts.key_id, "scopes": ["alerts"], "name": "Grafana alerts"}.items() <= next(
        k for k in listed if k["id"] == alerts.key_id
    ).items()
    assert all("secret" not in k for k in listed)


def test_a_signature_is_good_for_its_own_route_method_and_one_use(local: tuple[Local, Path]) -> None:
    running, _ = local
    key = running.api_key
    body = json.dumps({"number": NUMBER}).encode()
    # Signed for /consents/withdraw, sent to /suppressions/remove: refused, the opt-out stays.
    signed = signature_headers(key, "POST", running.url("/v1/consents/withdraw"), body)
    moved = httpx.post(
        running.url("/v1/suppressions/remove"),
        content=body,
        headers=signed | {"Content-Type": "application/json"},
        timeout=30,
    )
    assert moved.status_code == 401 and "does not match" in moved.json()["error"]
    # A signed GET replayed as DELETE.
    later = {"reference": "QKLATER001", "amount": "150", "phone": NUMBER, "send_at": _in_an_hour()}
    assert running.post_signed("/payments", later).status_code == 202
    # The schedule is written by the sender, after the 202: wait for it before the one signed read.
    running.wait_for(
        lambda: _statuses_if_any(running.get_signed("/messages/QKLATER001")) == ["SCHEDULED"],
        timeout=40,
        what="the schedule",
    )
    url = running.url("/v1/messages/QKLATER001")
    read = signature_headers(key, "GET", url)
    assert _statuses(httpx.get(url, headers=read, timeout=30)) == ["SCHEDULED"]
    replayed = httpx.delete(url, headers=read, timeout=30)
    assert replayed.status_code == 401, replayed.text
    assert _statuses(running.get_signed("/messages/QKLATER001")) == ["SCHEDULED"]  # not cancelled
    # The same request twice: processed once.
    payment = json.dumps({"reference": "QKTWICE001", "amount": "150", "phone": NUMBER}).encode()
    twice = signature_headers(key, "POST", running.url("/v1/payments"), payment)
    headers = twice | {"Content-Type": "application/json"}
    first = httpx.post(running.url("/v1/payments"), content=payment, headers=headers, timeout=30)
    second = httpx.post(running.url("/v1/payments"), content=payment, headers=headers, timeout=30)
    assert (first.status_code, second.status_code) == (202, 401)
    assert "already used" in second.json()["error"]


def _statuses(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [r["status"] for r in answer.json()["recipients"]]


def _statuses_if_any(answer: httpx.Response) -> list[str]:
    return _statuses(answer) if answer.status_code == 200 else []


def _in_an_hour() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).isoformat()
