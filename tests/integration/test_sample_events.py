"""Every sample in events/ is a valid event for its function (as `sam local invoke -e` would use it)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.integration.conftest import Stack, load_function
from tests.integration.webhook_client import WebhookClient

pytestmark = pytest.mark.integration
EVENTS = ROOT / "events"


def _load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


@pytest.mark.parametrize(
    ("name", "status", "answer"),
    [
        ("webhook_c2b_validation.json", 200, {"ResultCode": "0", "ResultDesc": "Accepted"}),
        ("webhook_c2b_confirmation.json", 200, {"ResultCode": 0, "ResultDesc": "Accepted"}),
        ("webhook_c2b_confirmation_masked.json", 200, {"ResultCode": 0, "ResultDesc": "Accepted"}),
        ("webhook_stk_success.json", 200, {"ResultCode": 0, "ResultDesc": "Accepted"}),
        ("webhook_stk_cancelled.json", 200, {"ResultCode": 0, "ResultDesc": "Accepted"}),
        ("webhook_payment_signed.json", 202, {"status": "queued", "idempotency_key": "INV-2026-0042"}),
        ("webhook_alert_signed.json", 202, {"status": "queued", "idempotency_key": "alert:pos-7-offline"}),
        ("webhook_delivery_report.json", 200, {"result": "unknown"}),
    ],
)
def test_webhook_samples(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, name: str, status: int, answer: dict[str, Any]
) -> None:
    hooks = WebhookClient.create(stack, load_function(stack, "webhooks", monkeypatch))
    event = _load(name)
    assert (
        hooks.send(event).status == 404 if "{token}" in event["resource"] else 401
    )  # placeholders as shipped
    event["path"] = event["path"].replace("PATH-TOKEN", hooks.token)
    if event["path"] in ("/payments", "/alerts"):
        placeholders = {k: v for k, v in event["headers"].items() if not k.lower().startswith("signature")}
        event["headers"] = placeholders | hooks.signed_headers(base64.b64decode(event["body"]), event["path"])
    result = hooks.send(event)
    assert (result.status, result.body) == (status, answer)


def test_outbox_samples(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    sender = load_function(stack, "outbox_sender", monkeypatch, ALERT_RECIPIENTS="0722000111")
    for name in sorted(p.name for p in EVENTS.glob("outbox_*.json")):
        assert sender(_load(name)) == {"batchItemFailures": []}, name
    texts = sorted(m["message"][:30] for m in stack.outbox())
    assert texts == [
        "ALARM: tuma-OutboxDeadLetters ",
        "SFK1A2B3C4 confirmed. We have ",
        "TAHADHARI [CRITICAL]: Disk ful",
        "Your Tuma code is 4821. It exp",
    ]


def test_payments_stream_sample(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = load_function(stack, "payment_stream", monkeypatch)
    assert stream(_load("payments_stream_insert.json")) == {"batchItemFailures": []}
    [body] = stack.queued()
    assert (body["idempotency_key"], body["to"]) == ("SKL4H7Q2ZP", ["254712345402"])
