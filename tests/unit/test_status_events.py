"""Status events from ledger changes: one per status change, never backwards, in a stated order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tuma.models.ledger import DueCheck
from tuma.security.signing import verify
from tuma.services.reconciler import Patience
from tuma.services.status_events import event_from_change, signed_headers

ENTRY = {
    "idempotency_key": "QKX1",
    "recipient_ref": "n:abc",
    "recipient": "2547*****678",
    "updated_at": "2026-11-26T10:00:00+00:00",
}


def test_each_status_change_is_one_event_with_a_growing_sequence():
    queued = event_from_change(None, ENTRY | {"status": "QUEUED"})
    sent = event_from_change(
        ENTRY | {"status": "QUEUED"}, ENTRY | {"status": "SENT", "provider_message_id": "8290842", "parts": 1}
    )
    delivered = event_from_change(
        ENTRY | {"status": "SENT"}, ENTRY | {"status": "DELIVERED", "final_via": "polling"}
    )
    assert [(e.status, e.previous_status, e.sequence) for e in (queued, sent, delivered)] == [
        ("queued", None, 1),
        ("sent", "queued", 2),
        ("delivered", "sent", 3),
    ]
    assert len({queued.event_id, sent.event_id, delivered.event_id}) == 3 and queued.group == delivered.group
    assert delivered.final_via == "polling" and sent.provider_message_id == "8290842"


def test_no_event_for_no_change_a_retry_a_backward_step_or_tumas_own_records():
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


def test_the_same_change_seen_twice_has_the_same_event_id():
    first = event_from_change(ENTRY | {"status": "QUEUED"}, ENTRY | {"status": "SENT"})
    again = event_from_change(
        ENTRY | {"status": "RETRYING"}, ENTRY | {"status": "SENT", "updated_at": "later"}
    )
    assert first is not None and again is not None and first.event_id == again.event_id


def test_events_are_signed_as_the_webhooks_are():
    event = event_from_change(None, ENTRY | {"status": "QUEUED"})
    body = event.body()
    headers = signed_headers(body, b"k" * 32, "1764151200", event.event_id)
    assert (
        verify(b"k" * 32, headers["X-Tuma-Timestamp"], headers["X-Tuma-Signature"], body, lambda: 1764151200)
        is None
    )
    assert headers["X-Tuma-Event-Id"] == event.event_id


def test_delivery_checks_back_off_up_to_their_ceiling():
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
