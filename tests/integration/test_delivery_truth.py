"""Delivery truth: reports by polling when no callback comes, scheduled sends, a message's story,
and status events pushed to the business (real handlers, moto and the simulator)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.integration.conftest import Stack, load_function, outbox_poller
from tests.integration.webhook_client import WebhookClient
from tuma_cli.local.events import dynamodb_stream_event, sqs_event

pytestmark = pytest.mark.integration
FAST = {"DLR_FIRST_CHECK_SECONDS": "1", "SMS_RETRY_BASE_SECONDS": "1"}


def _put(stack: Stack, *bodies: dict[str, Any]) -> None:
    url = stack.topology.resources["OutboxQueue"]["QueueUrl"]
    for body in bodies:
        stack.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(body))


def _drain(stack: Stack, sender: Any) -> None:
    poller = outbox_poller(stack, sender)
    while poller.poll_once().received:
        pass


def _statuses(stack: Stack) -> dict[str, dict[str, Any]]:
    return {e["idempotency_key"]: e for e in stack.ledger()}


def test_without_callbacks_reports_arrive_by_polling_and_silence_ends_expired(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = load_function(stack, "outbox_sender", monkeypatch, **FAST)
    numbers = {"ok": "0712000111", "absent": "0712000401", "limbo": "0712000404"}
    _put(
        stack, *({"idempotency_key": f"poll-{k}", "to": [n], "text": f"poll {k}"} for k, n in numbers.items())
    )
    _drain(stack, sender)
    assert {e["status"] for e in stack.ledger()} == {"SENT"}
    time.sleep(1.3)  # the first check is due after a second here
    reconciler = load_function(stack, "reconciler", monkeypatch, **FAST)
    summary = reconciler(
        {
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "detail": {},
            "time": "2026-11-26T09:00:00Z",
            "id": "1",
            "account": "1",
            "region": "us-east-1",
            "resources": [],
            "version": "0",
        }
    )
    assert summary["asked"] == 3 and summary["final_by_polling"] == 2
    ledger = _statuses(stack)
    assert (ledger["poll-ok"]["status"], ledger["poll-ok"]["final_via"]) == ("DELIVERED", "polling")
    assert (ledger["poll-absent"]["status"], ledger["poll-absent"]["delivery_status"]) == (
        "FAILED",
        "AbsentSubscriber",
    )
    assert ledger["poll-limbo"]["status"] == "SENT"  # SentToNetwork: a final report may still come

    # A third of a second of patience.
    patient_no_more = load_function(stack, "reconciler", monkeypatch, DLR_GIVE_UP_HOURS="0.0001", **FAST)
    time.sleep(6)  # its next check was rescheduled four seconds on
    assert (
        patient_no_more(
            {
                "version": "0",
                "id": "2",
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": "1",
                "time": "2026-11-26T09:01:00Z",
                "region": "us-east-1",
                "resources": [],
                "detail": {},
            }
        )["expired"]
        == 1
    )
    limbo = _statuses(stack)["poll-limbo"]
    assert (limbo["status"], limbo["final_via"]) == ("EXPIRED", "expiry") and "no delivery report" in limbo[
        "reason"
    ]


def test_a_scheduled_message_goes_once_at_its_time_and_a_cancelled_one_never(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = load_function(stack, "outbox_sender", monkeypatch, **FAST)
    hooks = WebhookClient.create(stack, load_function(stack, "webhooks", monkeypatch))
    soon = (datetime.now(UTC) + timedelta(seconds=8)).isoformat()
    fees = {
        "idempotency_key": "fees-friday",
        "to": ["0712000222"],
        "text": "Fees are due Friday.",
        "send_at": soon,
    }
    _put(
        stack,
        fees,
        fees,
        {"idempotency_key": "withdrawn", "to": ["0712000333"], "text": "Never.", "send_at": soon},
    )
    _drain(stack, sender)
    ledger = _statuses(stack)
    assert ledger["fees-friday"]["status"] == "SCHEDULED" and stack.outbox() == []

    cancelled = hooks.send(hooks.signed_event("/messages/withdrawn", method="DELETE"))
    assert (cancelled.status, cancelled.body["result"]) == (200, "cancelled")
    again = hooks.send(hooks.signed_event("/messages/withdrawn", method="DELETE"))
    assert (again.status, again.body["result"]) == (200, "cancelled")  # idempotent, never "already sent"
    assert hooks.send(hooks.signed_event("/messages/nothing-here", method="DELETE")).status == 404

    reconciler = load_function(stack, "reconciler", monkeypatch, **FAST)
    event = {
        "version": "0",
        "id": "3",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "1",
        "time": "2026-11-26T09:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {},
    }
    assert reconciler(event)["released"] == 0  # not yet
    time.sleep(8.5)
    assert reconciler(event)["released"] == 1
    assert reconciler(event)["released"] == 0  # once
    _put(stack, fees)  # redelivered after its release: still once
    _drain(stack, sender)
    assert [m["message"] for m in stack.outbox()] == ["Fees are due Friday."]
    ledger = _statuses(stack)
    assert ledger["fees-friday"]["status"] == "SENT" and ledger["withdrawn"]["status"] == "CANCELLED"


def test_a_message_story_is_answered_to_a_signed_get_with_numbers_masked(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = load_function(stack, "outbox_sender", monkeypatch, **FAST)
    hooks = WebhookClient.create(stack, load_function(stack, "webhooks", monkeypatch))
    _put(stack, {"idempotency_key": "INV/42 story", "to": ["0712000555", "0712"], "text": "Your invoice."})
    _drain(stack, sender)
    answer = hooks.send(hooks.signed_event("/messages/INV%2F42%20story"))
    assert answer.status == 200 and answer.body["idempotency_key"] == "INV/42 story"
    recipients = {r["status"]: r for r in answer.body["recipients"]}
    assert set(recipients) == {"SENT", "REJECTED"}
    sent = recipients["SENT"]
    assert (
        sent["recipient"] == "2547*****555"
        and sent["provider_message_id"]
        and sent["queued_at"]
        and sent["sent_at"]
    )
    assert "0712000555" not in json.dumps(answer.body) and "text" not in sent
    unsigned = hooks.send(hooks.event("/messages/INV%2F42%20story", None, method="GET"))
    assert unsigned.status == 401
    assert hooks.send(hooks.signed_event("/messages/unknown")).status == 404
    assert hooks.send(hooks.event("/messages/x", "{}", method="POST")).status == 405


class _Receiver(BaseHTTPRequestHandler):
    events: list[tuple[dict[str, str], bytes]]
    down: threading.Event

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.down.is_set():
            self.send_response(503)
        else:
            self.events.append((dict(self.headers.items()), body))
            self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"events": [], "down": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tuma-status", handler
    server.shutdown()


def _ledger_stream(stack: Stack, after: str | None) -> tuple[dict[str, Any], str | None]:
    streams = stack.client("dynamodbstreams")
    arn = stack.topology.resources["LedgerTable"]["StreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    kind = (
        {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
        if after
        else {"ShardIteratorType": "TRIM_HORIZON"}
    )
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, **kind)["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    return dynamodb_stream_event(records, arn), (
        records[-1]["dynamodb"]["SequenceNumber"] if records else after
    )


def test_every_status_change_reaches_the_business_signed_once_and_in_order_across_an_outage(
    stack_factory: Callable[..., Stack],
    receiver: tuple[str, type[_Receiver]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, handler = receiver
    stack = stack_factory(StatusCallbackUrl=url)
    sender = load_function(stack, "outbox_sender", monkeypatch, **FAST)
    _put(
        stack,
        *(
            {"idempotency_key": f"ev-{i}", "to": [f"071200{i:04d}"], "text": f"event {i}"}
            for i in range(1, 4)
        ),
    )
    _drain(stack, sender)
    events_fn = load_function(stack, "status_events", monkeypatch)
    notifier = load_function(stack, "status_notifier", monkeypatch)
    queue = stack.topology.resources["StatusEventsQueue"]
    sqs = stack.client("sqs")

    def pump(cursor: str | None) -> str | None:
        event, cursor = _ledger_stream(stack, cursor)
        if event["Records"]:
            assert events_fn(event) == {"batchItemFailures": []}
        while True:
            messages = sqs.receive_message(
                QueueUrl=queue["QueueUrl"], MaxNumberOfMessages=10, AttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                return cursor
            failed = {
                f["itemIdentifier"] for f in notifier(sqs_event(messages, queue["Arn"]))["batchItemFailures"]
            }
            for m in messages:
                if m["MessageId"] in failed:
                    sqs.change_message_visibility(
                        QueueUrl=queue["QueueUrl"], ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                    )
                else:
                    sqs.delete_message(QueueUrl=queue["QueueUrl"], ReceiptHandle=m["ReceiptHandle"])
            if failed:
                return cursor  # the receiver is down: the events wait

    handler.down.set()  # the receiver is down while the first events are produced
    cursor = pump(None)
    assert handler.events == []
    handler.down.clear()
    cursor = pump(cursor)
    hooks = WebhookClient.create(stack, load_function(stack, "webhooks", monkeypatch))
    for entry in stack.ledger():  # the network reports, by callback
        report = {"messageid": entry["provider_message_id"], "description": "DeliveredToTerminal"}
        assert hooks.report(report).status == 200
    pump(cursor)

    secret = json.loads(
        stack.client("secretsmanager").get_secret_value(SecretId=stack.topology.ref("StatusWebhookSecret"))[
            "SecretString"
        ]
    )["token"]
    seen: dict[str, list[int]] = {}
    ids = []
    for headers, body in handler.events:
        event = Webhook(secret).verify(body, headers)  # as the business's receiver verifies
        assert headers["webhook-id"] == event["event_id"]
        ids.append(event["event_id"])
        seen.setdefault(event["idempotency_key"], []).append(event["sequence"])
        assert "0712" not in body.decode()  # numbers masked
    assert len(ids) == len(set(ids)) == 9  # queued, sent, delivered for each of three: each once
    assert seen == {f"ev-{i}": [1, 2, 3] for i in range(1, 4)}  # in order


def test_an_unreadable_ledger_change_is_skipped_and_the_rest_of_the_batch_is_pushed(
    stack_factory: Callable[..., Stack],
    receiver: tuple[str, type[_Receiver]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, _ = receiver
    stack = stack_factory(StatusCallbackUrl=url)
    events_fn = load_function(stack, "status_events", monkeypatch)
    entry = {
        "idempotency_key": {"S": "ev-odd"},
        "recipient_ref": {"S": "n:abc"},
        "recipient": {"S": "2547*****678"},
        "status": {"S": "QUEUED"},
        "updated_at": {"S": "2026-12-02T05:00:00+00:00"},
    }
    event = {
        "Records": [
            {"eventID": "odd", "eventName": "INSERT", "dynamodb": {"SequenceNumber": "1", "NewImage": "?"}},
            {
                "eventID": "bad",
                "eventName": "INSERT",
                "dynamodb": {"SequenceNumber": "2", "NewImage": {"x": {"Q": 1}}},
            },
            {
                "eventID": "good",
                "eventName": "INSERT",
                "dynamodb": {"SequenceNumber": "3", "NewImage": entry},
            },
        ]
    }
    assert events_fn(event) == {"batchItemFailures": []}
    queue = stack.topology.resources["StatusEventsQueue"]["QueueUrl"]
    [message] = stack.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"])["idempotency_key"] == "ev-odd"
