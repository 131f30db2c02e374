"""The suppression list and consents through functions/webhooks and functions/outbox_sender, against the
moto server and the provider simulator: the signed routes, a blacklisted report, the table itself."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.integration.conftest import Stack, load_function, outbox_poller
from tests.integration.webhook_client import WebhookClient

pytestmark = pytest.mark.integration

NUMBER = "0711 222 333"
FULL = "254711222333"


@pytest.fixture
def hooks(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> WebhookClient:
    return WebhookClient.create(stack, load_function(stack, "webhooks", monkeypatch))


def _privacy_items(stack: Stack) -> list[dict[str, Any]]:
    return list(stack.client("dynamodb").scan(TableName=stack.topology.ref("PrivacyTable"))["Items"])


def _send(stack: Stack, monkeypatch: pytest.MonkeyPatch, *messages: dict[str, Any]) -> None:
    sqs = stack.client("sqs")
    for message in messages:
        sqs.send_message(
            QueueUrl=stack.topology.resources["OutboxQueue"]["QueueUrl"], MessageBody=json.dumps(message)
        )
    # Promotions go at any hour here: the test must not depend on the time it runs.
    sender = load_function(stack, "outbox_sender", monkeypatch, PROMOTIONAL_WINDOW="00:00-24:00")
    poller = outbox_poller(stack, sender)
    while poller.poll_once().received:
        pass


def _statuses(stack: Stack) -> dict[tuple[str, str], str]:
    return {(e["idempotency_key"], e["recipient"]): e["status"] for e in stack.ledger()}


def test_the_signed_routes_add_and_remove_numbers_and_the_table_holds_no_number(
    stack: Stack, hooks: WebhookClient
) -> None:
    added = hooks.signed("/suppressions", {"number": NUMBER, "scope": "all", "reason": "replied STOP"})
    assert (added.status, added.body) == (201, {"number": "2547*****333", "scope": "all", "added": True})
    assert hooks.signed("/suppressions", {"number": "+254711222333", "scope": "all"}).body["added"] is False
    consent = hooks.signed(
        "/consents",
        {"number": hashlib.sha256(FULL.encode()).hexdigest(), "source": "web form", "wording": "Offers"},
    )
    assert consent.status == 201
    [item] = _privacy_items(stack)
    raw = json.dumps(item)
    assert set(item) >= {"number_key", "masked", "suppressed_all", "consent"}
    # Neither the number, nor its plain digest, nor the recipient ref's digest: only the keyed hash.
    for secret in (FULL, "711222333", hashlib.sha256(FULL.encode()).hexdigest()[:24]):
        assert secret not in raw

    removed = hooks.signed("/suppressions/remove", {"number": "0711222333"})
    assert removed.body == {"number": "2547*****333", "removed": ["all"]}
    assert hooks.signed("/consents/withdraw", {"number": NUMBER}).body == {
        "number": "2547*****333",
        "withdrawn": True,
    }
    assert _privacy_items(stack) == []  # nothing left of the number


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"number": "2547****333"}, "number"),
        ({"number": "07123"}, "number"),
        ({"number": NUMBER, "scope": "some"}, "scope"),
        ({"number": NUMBER, "extra": 1}, "extra"),
    ],
)
def test_a_bad_request_is_a_422_naming_the_field_and_changes_nothing(
    stack: Stack, hooks: WebhookClient, body: dict[str, Any], field: str
) -> None:
    answer = hooks.signed("/suppressions", body)
    assert answer.status == 422
    assert [f["field"] for f in answer.body["fields"]] == [field]
    assert _privacy_items(stack) == []


def test_unsigned_requests_are_refused(stack: Stack, hooks: WebhookClient) -> None:
    for path in ("/suppressions", "/suppressions/remove", "/consents", "/consents/withdraw"):
        assert hooks.post(path, {"number": NUMBER, "source": "x", "wording": "y"}).status == 401
    assert _privacy_items(stack) == []


def test_a_blacklisted_report_suppresses_the_number_for_promotions_and_its_receipts_still_go(
    stack: Stack, hooks: WebhookClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.configure_sandbox(opted_out=[NUMBER], dlr_delay=0)
    assert (
        hooks.signed("/consents", {"number": NUMBER, "source": "shop", "wording": "Offers by SMS"}).status
        == 201
    )
    promotion = {
        "idempotency_key": "promo-1",
        "to": [NUMBER],
        "template": "promotion",
        "data": {"offer": "20% off uniforms"},
    }
    _send(stack, monkeypatch, promotion)
    [sms] = stack.outbox()
    assert sms["shortcode"] == "TUMAINFO" and sms["message"].endswith(" STOP*456*9*5#")
    # The simulator reports what Safaricom reports for a number that blocked promotions.
    report = {
        "description": sms["delivery_status"],
        "messageid": sms["messageid"],
        "timestamp": "2026-12-01 10:00:00",
    }
    assert report["description"] == "SenderName Blacklisted"
    assert hooks.report(report).body == {"result": "applied"}
    [item] = _privacy_items(stack)
    assert item["suppressed_promotional"]["M"]["source"]["S"] == "delivery-report"

    receipt = {
        "idempotency_key": "QK1",
        "to": [NUMBER],
        "template": "receipt",
        "data": {"reference": "QK1", "amount": "50"},
    }
    _send(stack, monkeypatch, receipt, promotion | {"idempotency_key": "promo-2"})
    statuses = _statuses(stack)
    assert statuses[("promo-1", "2547*****333")] == "FAILED"
    assert statuses[("QK1", "2547*****333")] == "SENT"
    assert statuses[("promo-2", "2547*****333")] == "SUPPRESSED"
    assert [m["shortcode"] for m in stack.outbox()] == ["TUMAINFO", "TUMA"]
