"""functions/outbox_sender against a real moto server (SQS, DynamoDB, Secrets Manager) and the simulator."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.integration.conftest import Lanes, Stack, load_function, outbox_poller

pytestmark = pytest.mark.integration


def _put(stack: Stack, *bodies: dict[str, Any]) -> None:
    sqs = stack.client("sqs")
    url = stack.topology.resources["OutboxQueue"]["QueueUrl"]
    for start in range(0, len(bodies), 10):
        entries = [
            {"Id": str(i), "MessageBody": json.dumps(b)} for i, b in enumerate(bodies[start : start + 10])
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def _drain(stack: Stack, poller: Lanes, max_rounds: int = 30, fast_forward: bool = True) -> list[Any]:
    """Poll until the queue is empty; failed records are made visible again at once (time passes)."""
    results = []
    for _ in range(max_rounds):
        result = poller.poll_once()
        if not result.received:
            break
        results.append(result)
        if fast_forward:
            poller.retry_now(result)
    return results


def _receipt(key: str, phone: str, name: str = "Wanjiku", amount: str = "1500") -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "to": [phone],
        "template": "receipt",
        "data": {
            "reference": key,
            "amount": amount,
            "name": name,
            "account": "INV-7",
            "paid_at": "20241101111532",
        },
    }


def test_outbox_messages_reach_the_phone_rendered_and_the_ledger_says_sent(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = load_function(stack, "outbox_sender", monkeypatch)
    _put(
        stack,
        _receipt("SFK1A2B3C4", "0712 345 678"),
        {"idempotency_key": "otp-991", "to": ["254722000000"], "text": "Your code is 4821", "route": "otp"},
        {
            "idempotency_key": "alert-42",
            "to": ["+254733123456"],
            "template": "alert",
            "data": {"title": "Disk full", "host": "db-1"},
            "language": "sw",
        },
    )
    [result] = _drain(stack, outbox_poller(stack, sender))
    assert result.received == 3 and result.deleted == 3

    phones = {m["mobile"]: (m["message"], m["route"]) for m in stack.outbox()}
    assert phones == {
        "254712345678": (
            "SFK1A2B3C4 confirmed. We have received KES 1,500.00 from Wanjiku for account INV-7 on 01/11/2024 11:15."
            " Thank you.",
            "sendbulk",
        ),
        "254722000000": ("Your code is 4821", "sendotp"),
        "254733123456": ("TAHADHARI: Disk full kwenye db-1", "sendbulk"),
    }
    ledger = {e["idempotency_key"]: e for e in stack.ledger()}
    assert {k: e["status"] for k, e in ledger.items()} == {
        "SFK1A2B3C4": "SENT",
        "otp-991": "SENT",
        "alert-42": "SENT",
    }
    assert ledger["SFK1A2B3C4"]["recipient"] == "2547*****678"  # masked, never the full number
    assert ledger["SFK1A2B3C4"]["provider_message_id"] == next(
        m["messageid"] for m in stack.outbox() if m["mobile"] == "254712345678"
    )
    assert all(e["parts"] == 1 and e["expires_at"] > time.time() for e in ledger.values())


def test_a_redelivered_record_or_a_repeated_key_sends_nothing_new(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = load_function(stack, "outbox_sender", monkeypatch)
    _put(stack, _receipt("RKTQDM7W6S", "0712345678"))
    poller = outbox_poller(stack, sender)
    # Receive without deleting, as if the first invocation timed out after sending.
    sqs = stack.client("sqs")
    message = sqs.receive_message(QueueUrl=poller.queue_url, AttributeNames=["All"])["Messages"][0]
    from tuma_cli.local.events import sqs_event

    assert sender(sqs_event([message], poller.queue_arn)) == {"batchItemFailures": []}
    sqs.change_message_visibility(
        QueueUrl=poller.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    _drain(stack, poller)  # the redelivery
    _put(
        stack, _receipt("RKTQDM7W6S", "+254 712 345 678", name="Someone Else")
    )  # a second producer, same event
    _drain(stack, poller)
    assert len(stack.outbox()) == 1
    assert [e["status"] for e in stack.ledger()] == ["SENT"]


def test_invalid_number_is_rejected_while_its_batch_mates_are_sent(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = load_function(stack, "outbox_sender", monkeypatch)
    _put(
        stack,
        _receipt("K1", "0712345678"),
        _receipt("K2", "0712"),  # we reject: not a number
        _receipt("K3", "0712345409"),  # the network rejects: the simulator answers 1003
        {"idempotency_key": "K4", "to": ["0722000000"], "text": "x" * 600},  # four parts: over the limit
        {"idempotency_key": "K5", "to": ["0722000001"], "template": "receipt", "data": {"amount": 5}},
        _receipt("K6", "0722000002"),
    )
    [result] = _drain(stack, outbox_poller(stack, sender))
    assert result.deleted == 6 and result.failed_receipts == []
    ledger = {e["idempotency_key"]: e for e in stack.ledger()}
    assert {k: e["status"] for k, e in ledger.items()} == {
        "K1": "SENT",
        "K2": "REJECTED",
        "K3": "REJECTED",
        "K4": "REJECTED",
        "K5": "REJECTED",
        "K6": "SENT",
    }
    assert ledger["K2"]["reason"] == "invalid number: not a valid Kenyan number"
    assert ledger["K3"]["provider_code"] == 1003
    assert ledger["K4"]["reason"].startswith("text needs 4 SMS parts")
    assert "reference" in ledger["K5"]["reason"]
    assert sorted(m["mobile"] for m in stack.outbox()) == ["254712345678", "254722000002"]


def test_a_batch_of_100_takes_one_provider_call(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    sender = load_function(stack, "outbox_sender", monkeypatch)
    _put(stack, *[_receipt(f"QX{i:08d}", f"0712{i:06d}") for i in range(100)])
    poller = outbox_poller(stack, sender, batch_size=100)
    results = _drain(stack, poller)
    assert sum(r.deleted for r in results) == 100
    assert poller.invocations == 1
    assert stack.sandbox_stats()["requests"] == {"sendbulk": 1}
    assert len(stack.outbox()) == 100


def test_a_brand_with_a_lower_list_limit_is_learnt_once_and_kept_across_cold_starts(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.configure_sandbox(bulk_limit=20)
    for batch in range(3):
        sender = load_function(stack, "outbox_sender", monkeypatch)  # a cold start each time
        _put(stack, *[_receipt(f"LL{batch}{i:07d}", f"071{batch}{i:06d}") for i in range(100)])
        results = _drain(stack, outbox_poller(stack, sender, batch_size=100))
        assert sum(r.deleted for r in results) == 100
    assert len(stack.outbox()) == 300
    assert len({m["mobile"] for m in stack.outbox()}) == 300
    # One refused list of 100 in all, then lists of 20: 15 calls is the ideal.
    assert stack.sandbox_stats()["requests"] == {"sendbulk": 16}


@pytest.mark.parametrize("dialect", ["advanta", "wavesms"])
def test_both_answer_dialects_are_understood(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, dialect: str
) -> None:
    stack.configure_sandbox(dialect=dialect)
    sender = load_function(stack, "outbox_sender", monkeypatch)
    _put(stack, _receipt("D1", "0712345678"), _receipt("D2", "0712345409"), _receipt("D3", "0722000000"))
    _drain(stack, outbox_poller(stack, sender))
    assert {e["idempotency_key"]: e["status"] for e in stack.ledger()} == {
        "D1": "SENT",
        "D2": "REJECTED",
        "D3": "SENT",
    }


@pytest.mark.parametrize(
    "kinds",
    [
        ["5xx"],
        ["drop"],
        ["empty"],
        ["1005"],
        ["4090"],
        ["slow"],
        ["5xx", "drop", "1005", "4090", "slow", "empty"],
    ],
)
def test_with_faults_only_retryable_records_fail_and_every_message_arrives_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, kinds: list[str]
) -> None:
    sender = load_function(stack, "outbox_sender", monkeypatch, SMS_READ_TIMEOUT="0.5", SMS_BULK_LIMIT="5")
    stack.faults(rate=0.4, kinds=kinds, seed=7, slow_seconds=1.0)
    good = [_receipt(f"FT{i:08d}", f"0712{i:06d}") for i in range(30)]
    bad = [_receipt("BAD1", "0712"), _receipt("BAD2", "0712345409")]
    _put(stack, *good, *bad)
    results = _drain(stack, outbox_poller(stack, sender, batch_size=10), max_rounds=60)

    assert stack.sandbox_stats()["faults"], "the fault plan injected nothing"
    assert any(r.failed_receipts for r in results)
    received = sorted(m["mobile"] for m in stack.outbox())
    assert received == sorted(f"254712{i:06d}" for i in range(30))  # every one, once
    statuses = {e["idempotency_key"]: e["status"] for e in stack.ledger()}
    assert statuses.pop("BAD1") == "REJECTED" and statuses.pop("BAD2") == "REJECTED"
    assert set(statuses.values()) == {"SENT"}


def test_failed_records_are_postponed_by_the_queue_not_the_function(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = load_function(stack, "outbox_sender", monkeypatch)
    stack.faults(count=10, kinds=["4090"])
    _put(stack, _receipt("LATER1", "0712345678"))
    poller = outbox_poller(stack, sender)
    result = poller.poll_once()
    assert len(result.failed_receipts) == 1
    # The provider asked for five minutes: the message is invisible, not spinning through retries.
    assert poller.poll_once().received == 0
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=poller.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert [e["status"] for e in stack.ledger()] == ["RETRYING"]
    assert stack.outbox() == []


def test_low_credit_waits_for_a_top_up_then_sends(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    stack.configure_sandbox(credit=1)
    sender = load_function(stack, "outbox_sender", monkeypatch)
    _put(stack, _receipt("CR1", "0712345678"), _receipt("CR2", "0722000000"))
    poller = outbox_poller(stack, sender)
    first = poller.poll_once()
    assert first.deleted == 1 and len(first.failed_receipts) == 1
    ledger = {e["idempotency_key"]: e for e in stack.ledger()}
    failed = next(e for e in ledger.values() if e["status"] == "RETRYING")
    assert failed["provider_code"] == 1004
    stack.configure_sandbox(credit=100)
    sqs = stack.client("sqs")
    sqs.change_message_visibility(
        QueueUrl=poller.queue_url, ReceiptHandle=first.failed_receipts[0], VisibilityTimeout=0
    )
    _drain(stack, poller)
    assert len(stack.outbox()) == 2
    assert {e["status"] for e in stack.ledger()} == {"SENT"}


def test_a_rotated_apikey_is_picked_up_without_a_failed_message(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = load_function(stack, "outbox_sender", monkeypatch)
    poller = outbox_poller(stack, sender)
    _put(stack, _receipt("ROT1", "0712345678"))
    _drain(stack, poller)  # warms the credentials cache with the old key

    stack.configure_sandbox(
        apikey="rotated-key-9d8e7f6a5b"
    )  # regenerated in the portal: old key dies at once
    stack.set_credentials("rotated-key-9d8e7f6a5b")  # and the operator updates the secret
    _put(stack, _receipt("ROT2", "0722000000"))
    results = _drain(stack, poller, fast_forward=False)
    assert [r.failed_receipts for r in results] == [[]]
    assert sorted(m["mobile"] for m in stack.outbox()) == ["254712345678", "254722000000"]
    assert {e["status"] for e in stack.ledger()} == {"SENT"}


def test_a_wrong_sender_id_is_a_configuration_error_that_keeps_the_message(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.configure_sandbox(shortcode="Tuma")  # the secret says TUMA: case matters
    sender = load_function(stack, "outbox_sender", monkeypatch)
    _put(stack, _receipt("CFG1", "0712345678"))
    result = outbox_poller(stack, sender).poll_once()
    assert len(result.failed_receipts) == 1  # back to the queue (and the DLQ) until fixed, never lost
    [entry] = stack.ledger()
    assert entry["status"] == "RETRYING" and entry["provider_code"] == 1001


def test_a_malformed_body_is_dropped_with_a_record_and_does_not_block_the_batch(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sender = load_function(stack, "outbox_sender", monkeypatch)
    sqs = stack.client("sqs")
    url = stack.topology.resources["OutboxQueue"]["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="this is not json 0712345678")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"idempotency_key": "M2", "to": "0712345678"}))
    _put(stack, _receipt("M3", "0722000000"))
    [result] = _drain(stack, outbox_poller(stack, sender))
    assert result.deleted == 3 and result.failed_receipts == []
    assert {e["idempotency_key"]: e["status"] for e in stack.ledger()} == {"M2": "REJECTED", "M3": "SENT"}
    logs = caplog.text
    assert "outbox message" in logs and "rejected: malformed outbox message" in logs
    assert "0712345678" not in logs and "254722000000" not in logs


def test_more_than_a_thousand_recipients_in_one_message_are_all_sent(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = load_function(stack, "outbox_sender", monkeypatch)
    # Not ending in 401-410: the simulator's failing numbers.
    numbers = [f"07{n:08d}" for n in range(10_000_000, 10_001_700) if not 401 <= n % 1000 <= 410][:1500]
    _put(stack, {"idempotency_key": "fees-due", "to": numbers, "text": "Fees are due on Friday."})
    _drain(stack, outbox_poller(stack, sender))
    phones = {sms["mobile"] for sms in stack.outbox()}
    assert len(phones) == 1500 and phones == {"254" + n[1:] for n in numbers}
    assert {e["status"] for e in stack.ledger()} == {"SENT"}
    assert stack.sandbox_stats()["requests"]["sendbulk"] == 15  # the simulator's 100-message list limit
