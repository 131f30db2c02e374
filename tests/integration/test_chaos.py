"""Chaos: mixed events, duplicates of each kind, with the provider failing 30% of its calls.

C2B confirmations, STK callbacks (some for the same payments as C2B), payments-table rows (some
repeating C2B payments) and outbox messages, each kind partly sent twice, through the real handlers,
moto and the simulator. Every payment ends as exactly one SMS, every event has its ledger outcome.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from typing import Any

import pytest

from tests.conftest import shared_fixture
from tests.integration.conftest import Stack, load_function, outbox_poller
from tests.integration.webhook_client import WebhookClient
from tuma_cli.local.events import dynamodb_stream_event

pytestmark = pytest.mark.integration
# 100 per source (about 450 events) in the suite, which has 15 minutes for everything;
# TUMA_CHAOS_PER_SOURCE=450 pushes the two thousand and more the issue asks about.
PER_SOURCE = int(os.environ.get("TUMA_CHAOS_PER_SOURCE", "100"))
FAULTS = {"rate": 0.3, "kinds": ["5xx", "empty", "drop", "1005", "4090"], "seed": 11}


def _phone(n: int) -> str:
    return f"0713{n:04d}99"  # ends in x99: never one of the simulator's failing endings (401-410)


def _stream_event(stack: Stack) -> dict[str, Any]:
    streams = stack.client("dynamodbstreams")
    arn = stack.topology.resources["PaymentsTable"]["StreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = streams.get_records(ShardIterator=iterator, Limit=1000)
            records += answer["Records"]
            iterator = answer.get("NextShardIterator") if answer["Records"] else None
    return dynamodb_stream_event(records, arn)


@pytest.mark.timeout(420)
def test_mixed_events_and_their_duplicates_with_faults_send_one_sms_per_payment(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    chance = random.Random(3)
    hooks = WebhookClient.create(stack, load_function(stack, "webhooks", monkeypatch))
    c2b_base = shared_fixture("mpesa/c2b_confirmation_request_legacy_docs.json")
    stk_base = shared_fixture("mpesa/stk_callback_success_official.json")
    payments: dict[str, str] = {}  # reference -> the payer's number (254 form)
    events = Counter[str]()

    for n in range(PER_SOURCE):  # C2B, a quarter of them delivered twice
        reference = f"CHC{n:07d}"
        payments[reference] = "254" + _phone(n)[1:]
        body = c2b_base | {
            "TransID": reference,
            "MSISDN": payments[reference],
            "TransAmount": f"{100 + n}.00",
        }
        for _ in range(2 if n % 4 == 0 else 1):
            assert hooks.daraja("c2b/confirmation", body).status == 200
            events["c2b"] += 1
    for n in range(PER_SOURCE):  # STK; every fifth one reports a C2B payment again
        reference = f"CHC{n:07d}" if n % 5 == 0 else f"CHS{n:07d}"
        payments.setdefault(reference, "254" + _phone(1000 + n)[1:])
        callback = json.loads(json.dumps(stk_base))
        items = callback["Body"]["stkCallback"]
        items["CheckoutRequestID"] = f"ws_CO_chaos_{n}"
        items["CallbackMetadata"]["Item"] = [
            {"Name": "Amount", "Value": 50 + n},
            {"Name": "MpesaReceiptNumber", "Value": reference},
            {"Name": "PhoneNumber", "Value": int(payments[reference])},
        ]
        assert hooks.daraja("stk", callback).status == 200
        events["stk"] += 1

    table = stack.topology.ref("PaymentsTable")
    for n in range(PER_SOURCE):  # table rows; every fourth one repeats a C2B payment
        reference = f"CHC{n:07d}" if n % 4 == 1 else f"CHT{n:07d}"
        payments.setdefault(reference, "254" + _phone(2000 + n)[1:])
        stack.client("dynamodb").put_item(
            TableName=table,
            Item={
                "payment_id": {"S": f"chaos-{n}"},
                "status": {"S": "COMPLETED"},
                "amount": {"N": str(75 + n)},
                "phone": {"S": payments[reference]},
                "reference": {"S": reference},
            },
        )
        events["table"] += 1
    stream = load_function(stack, "payment_stream", monkeypatch)
    assert stream(_stream_event(stack)) == {"batchItemFailures": []}

    sqs, url = stack.client("sqs"), stack.topology.resources["OutboxQueue"]["QueueUrl"]
    outbox_keys = [f"chaos-msg-{n}" for n in range(PER_SOURCE)]
    bodies = [
        json.dumps({"idempotency_key": key, "to": [_phone(3000 + n)], "text": f"Notice {key}"})
        for n, key in enumerate(outbox_keys)
    ]
    bodies += bodies[::4]  # a quarter queued twice
    chance.shuffle(bodies)
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])],
        )
    events["outbox"] = len(bodies)
    assert sum(events.values()) >= 4.5 * PER_SOURCE

    stack.faults(**FAULTS)
    sender = load_function(stack, "outbox_sender", monkeypatch)
    poller = outbox_poller(stack, sender, batch_size=20)  # small batches: many provider calls to fail
    for _ in range(1000):
        result = poller.poll_once()
        if not result.received:
            break
        poller.retry_now(result)  # time passes: a postponed message comes back
    print(f"\n{sum(events.values())} events {dict(events)}, simulator: {stack.sandbox_stats()}")
    assert stack.sandbox_stats()["faults"], "no fault was injected"

    sms = stack.outbox()
    receipts = Counter(
        message["message"].split(" ", 1)[0] for message in sms if message["message"].startswith("CH")
    )
    notices = Counter(message["message"] for message in sms if message["message"].startswith("Notice"))
    assert set(receipts) == set(payments) and set(receipts.values()) == {1}, "one receipt per payment"
    assert len(notices) == PER_SOURCE and set(notices.values()) == {1}, "one SMS per outbox message"
    to = {
        message["message"].split(" ", 1)[0]: message["mobile"]
        for message in sms
        if message["message"].startswith("CH")
    }
    assert to == payments
    ledger = Counter(e["idempotency_key"] for e in stack.ledger() if e["status"] == "SENT")
    assert set(ledger) == set(payments) | set(outbox_keys) and set(ledger.values()) == {1}
