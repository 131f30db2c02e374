"""Status events from ledger changes: one per status change, never backwards, in a stated order."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from tuma.models.http import HttpAnswer, HttpFailure
from tuma.models.ledger import DueCheck
from tuma.security.standard_webhooks import headers as signed
from tuma.services.reconciler import Patience
from tuma.services.status_events import (
    Change,
    StatusNotifier,
    StatusPublisher,
    Waiting,
    event_from_change,
    redelivery_delay,
)

from tests.unit.fakes import ListMetrics, MemoryStatusQueue, ScriptedHttp

SECRET = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # as StatusWebhookSecret generates: 32 letters and digits
OTHER = "whsec_" + "A" * 32
ENTRY = {
    "idempotency_key": "QKX1",
    "recipient_ref": "n:abc",
    "recipient": "2547*****678",
    "updated_at": "2026-11-26T10:00:00+00:00",
}


def test_each_status_change_is_one_event_with_a_growing_sequence() -> None:
    queued = event_from_change(None, ENTRY | {"status": "QUEUED"})
    sent = event_from_change(
        ENTRY | {"status": "QUEUED"}, ENTRY | {"status": "SENT", "provider_message_id": "8290842", "parts": 1}
    )
    delivered = event_from_change(
        ENTRY | {"status": "SENT"}, ENTRY | {"status": "DELIVERED", "final_via": "polling"}
    )
    assert queued is not None and sent is not None and delivered is not None
    assert [(e.status, e.previous_status, e.sequence) for e in (queued, sent, delivered)] == [
        ("queued", None, 1),
        ("sent", "queued", 2),
        ("delivered", "sent", 3),
    ]
    assert len({queued.event_id, sent.event_id, delivered.event_id}) == 3 and queued.group == delivered.group
    assert delivered.final_via == "polling" and sent.provider_message_id == "8290842"


def test_no_event_for_no_change_a_retry_a_backward_step_or_tumas_own_records() -> None:
    assert (
        event_from_change(
            ENTRY | {"status": "SENT"}, ENTRY | {"status": "SENT", "delivery_status": "SentToNetwork"}
        )
        is None
    )
    assert event_from_change(ENTRY | {"status": "QUEUED"}, ENTRY | {"status": "RETRYING"}) is None
    assert event_from_change(ENTRY | {"status": "DELIVERED"}, ENTRY | {"status": "SENT"}) is None
    assert event_from_change(None, ENTRY | {"recipient_ref": "#payment", "status": "QUEUED"}) is None
    assert event_from_change(None, {"idempotency_key": "#due-dlr", "recipient_ref": "#1#x"}) is None
    assert event_from_change(ENTRY | {"status": "SENT"}, None) is None  # a TTL deletion
    # An entry moved to a new ref: by an erasure, or from its unkeyed ref after the upgrade to 0.3.0.
    moved = {"status": "DELIVERED", "recipient_ref": "k:" + "0" * 64}
    assert event_from_change(None, ENTRY | moved | {"erased_at": "2026-12-07T10:00:00+00:00"}) is None
    assert event_from_change(None, ENTRY | moved | {"rekeyed_at": "2026-12-07T10:00:00+00:00"}) is None


def test_the_same_change_seen_twice_has_the_same_event_id() -> None:
    first = event_from_change(ENTRY | {"status": "QUEUED"}, ENTRY | {"status": "SENT"})
    again = event_from_change(
        ENTRY | {"status": "RETRYING"}, ENTRY | {"status": "SENT", "updated_at": "later"}
    )
    assert first is not None and again is not None and first.event_id == again.event_id


def test_events_are_signed_as_standard_webhooks_and_verify_with_its_library() -> None:
    event = event_from_change(None, ENTRY | {"status": "QUEUED"})
    assert event is not None
    body, now = event.body(), datetime.now(UTC)
    headers = signed([SECRET], event.event_id, int(now.timestamp()), body)
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)
    assert Webhook("whsec_" + SECRET).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"queued", b"failed"), headers)
    # During a rotation's grace: one signature per live secret, and a receiver holding either verifies.
    both = signed([OTHER, SECRET], event.event_id, int(now.timestamp()), body)
    assert Webhook(SECRET).verify(body, both) and Webhook(OTHER).verify(body, both)


def test_delivery_checks_back_off_up_to_their_ceiling() -> None:
    patience = Patience(first_check=timedelta(minutes=2), max_interval=timedelta(hours=2))
    now = datetime(2026, 11, 26, 9, tzinfo=UTC)
    check = DueCheck("k", "r", "1", now, now)
    waits = [patience.next_check(DueCheck("k", "r", "1", now, now, attempts=n), now) - now for n in range(8)]
    assert waits[:4] == [
        timedelta(minutes=4),
        timedelta(minutes=8),
        timedelta(minutes=16),
        timedelta(minutes=32),
    ]
    assert waits[-1] == timedelta(hours=2) and patience.next_check(check, now) > now


def _changes() -> list[Change]:
    return [
        Change("100", None, ENTRY | {"status": "QUEUED"}),
        Change("101", ENTRY | {"status": "QUEUED"}, ENTRY | {"status": "RETRYING"}),  # not pushed
        Change("102", ENTRY | {"status": "QUEUED"}, ENTRY | {"status": "SENT"}),
        Change("103", ENTRY | {"status": "SENT"}, ENTRY | {"status": "DELIVERED"}),
    ]


def test_the_publisher_queues_one_event_per_change_worth_one_and_counts_them() -> None:
    queue, metrics = MemoryStatusQueue(), ListMetrics()
    assert StatusPublisher(queue, metrics).publish(_changes()) == []
    assert [e.status for e in queue.events] == ["queued", "sent", "delivered"]
    assert len({e.group for e in queue.events}) == 1
    assert metrics.counts["StatusEventsQueued"] == 3


def test_the_publisher_names_the_stream_positions_the_queue_refused() -> None:
    queue, metrics = MemoryStatusQueue(fail_at=[1]), ListMetrics()
    # The second event worth queueing (SENT) is refused: the stream must retry from its change.
    assert StatusPublisher(queue, metrics).publish(_changes()) == ["102"]
    assert [e.status for e in queue.events] == ["queued", "delivered"]
    assert metrics.counts["StatusEventsQueued"] == 2


def _waiting(status: str, group: str, count: int = 1) -> Waiting:
    event = event_from_change(None, ENTRY | {"status": status, "idempotency_key": group})
    assert event is not None
    return Waiting(f"sqs-{group}-{status}", event.body().decode(), event.group, count)


def test_the_notifier_signs_each_event_with_its_own_id_and_the_clock_given() -> None:
    http, metrics = ScriptedHttp(lambda url, body: HttpAnswer(204, b"")), ListMetrics()
    now = int(datetime.now(UTC).timestamp())
    notifier = StatusNotifier(http, lambda: [SECRET], "https://shop.example/tuma", metrics, lambda: now)
    event = _waiting("QUEUED", "A")
    assert notifier.deliver([event]) == []
    [(url, body, headers)] = http.requests
    assert url == "https://shop.example/tuma" and body == event.body.encode()
    assert headers["webhook-timestamp"] == str(now)
    # The receiver deduplicates on the event's id, the same however often the change is queued.
    assert headers["webhook-id"] == json.loads(body)["event_id"] != event.record_id
    assert Webhook(SECRET).verify(body, headers)["status"] == "queued"
    assert metrics.counts == {"StatusEventsDelivered": 1}


def test_a_refused_event_holds_back_its_message_only_and_comes_back_later_each_time() -> None:
    down = {"A"}

    def receiver(url: str, body: bytes) -> HttpAnswer | HttpFailure:
        key = json.loads(body)["idempotency_key"]
        if key in down:
            return HttpFailure("timeout", maybe_sent=True) if key == "A" else HttpAnswer(503, b"")
        return HttpAnswer(200, b"")

    http, metrics = ScriptedHttp(receiver), ListMetrics()
    notifier = StatusNotifier(http, lambda: [SECRET], "https://shop.example/tuma", metrics)
    batch = [_waiting("QUEUED", "A", 1), _waiting("SENT", "A", 3), _waiting("QUEUED", "B", 2)]
    refused = notifier.deliver(batch)
    assert [(r.record_id, r.problem, r.delay_seconds) for r in refused] == [
        ("sqs-A-QUEUED", "timeout", 10),
        ("sqs-A-SENT", "behind an earlier event of its message", 40),
    ]
    assert len(http.requests) == 2  # A's later event was not sent ahead of its first
    assert metrics.counts == {"StatusEventsDelivered": 1, "StatusEventsRetried": 2}
    down.add("B")
    assert [r.problem for r in notifier.deliver([_waiting("QUEUED", "B")])] == ["HTTP 503"]


def test_redelivery_waits_double_up_to_fifteen_minutes() -> None:
    assert [redelivery_delay(n) for n in (1, 2, 3, 4, 5, 6, 7, 25)] == [10, 20, 40, 80, 160, 320, 640, 900]


class _Secrets:
    """What `tuma secrets rotate` reads and writes of a stack: its secrets by name."""

    def __init__(self, **secrets: dict[str, Any]) -> None:
        self.secrets = secrets

    def secret(self, name: str) -> dict[str, Any]:
        return self.secrets[name]

    def put_secret(self, name: str, value: dict[str, Any]) -> None:
        self.secrets[name] = value


def test_rotating_the_status_secret_signs_with_both_for_the_grace_then_the_new_one() -> None:
    from typing import cast

    from tuma.models.callback_tokens import CallbackToken

    from tuma_cli import secrets_cli, stack

    found = _Secrets(status_webhook={"token": SECRET}, webhook={"path_token": "p" * 32})
    secrets_cli.rotate(cast("stack.Stack", found), "status", timedelta(hours=24))
    stored = CallbackToken.model_validate(found.secrets["status_webhook"])
    new = stored.token.get_secret_value()
    assert len(base64.b64decode(new)) == 32 and [p.token.get_secret_value() for p in stored.previous] == [
        SECRET
    ]
    now = datetime.now(UTC)
    live = [new] + [p.token.get_secret_value() for p in stored.previous if p.until > now]
    body = b'{"event_id": "e1"}'
    headers = signed(live, "e1", int(now.timestamp()), body)
    assert Webhook(SECRET).verify(body, headers) and Webhook(new).verify(body, headers)
