"""Status events pushed to the business: every status change of every message, signed (Standard
Webhooks, tuma.security.standard_webhooks), in order.

The ledger's stream says what changed; each change to a recipient's status becomes one event, with
an id the receiver can deduplicate on and a `sequence` (the status's rank: scheduled 0, queued 1,
sent 2, final 3) that only grows for a message, so a receiver can ignore anything older than what it
has. Events of one message go in order (one FIFO group per message and recipient); RETRYING is
internal and not pushed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuma.models.http import HttpFailure
from tuma.models.ledger import Status
from tuma.models.status_events import StatusEvent
from tuma.security.standard_webhooks import headers as signed

if TYPE_CHECKING:
    from tuma.ports import Http, MetricsSink, StatusEventQueue

log = logging.getLogger(__name__)
# A refused event comes back after 10 s, 20 s, 40 s ... (docs/design.md, "Status events"), never
# later than SQS's longest visibility postponement worth waiting for here.
FIRST_WAIT_SECONDS = 10
LONGEST_WAIT_SECONDS = 900


def event_from_change(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> StatusEvent | None:
    """The event a ledger change is worth, or None (no status change, a record of Tuma's own, an
    internal or backward step)."""
    if not new or not _about_a_message(new):
        return None
    step = _step(old, new)
    if step is None:
        return None
    status, before = step
    key, ref = str(new["idempotency_key"]), str(new["recipient_ref"])
    return StatusEvent(
        event_id=hashlib.sha256(f"{key}|{ref}|{status.value}".encode()).hexdigest()[:32],
        idempotency_key=key,
        recipient=str(new.get("recipient", "-")),
        status=status.value.lower(),
        previous_status=before.value.lower() if before else None,
        sequence=status.rank,
        reason=new.get("reason"),
        provider_message_id=new.get("provider_message_id"),
        parts=int(new["parts"]) if new.get("parts") is not None else None,
        delivery_status=new.get("delivery_status"),
        final_via=new.get("final_via"),
        at=str(new.get("updated_at", "")),
    )


def _about_a_message(new: Mapping[str, Any]) -> bool:
    """A recipient's entry, not one of Tuma's own records, and not an erasure or the move of an entry
    from its unkeyed ref (tuma.services.personal_data, tuma.adapters.dynamodb_ledger_walks): nothing
    happened to the message then."""
    return not (
        new.get("erased_at")
        or new.get("rekeyed_at")
        or str(new.get("recipient_ref", "#")).startswith("#")
        or str(new.get("idempotency_key", "#")).startswith("#")
    )


def _step(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> tuple[Status, Status | None] | None:
    """The status moved to and from, when it moved forward to a status worth telling."""
    try:
        status = Status(str(new.get("status")))
        before = Status(str(old["status"])) if old and old.get("status") else None
    except ValueError:
        return None
    if status is Status.RETRYING or status is before:
        return None
    if before is not None and before.rank > status.rank:
        return None
    return status, before


@dataclass(frozen=True)
class Change:
    """One ledger change, as the stream carried it; `position` names it to the stream on failure."""

    position: str
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None


class StatusPublisher:
    """functions/status_events: the ledger's changes in, the events they are worth onto the queue.
    Returns the positions of changes whose event the queue did not take, for the stream to retry."""

    def __init__(self, queue: StatusEventQueue, metrics: MetricsSink) -> None:
        self._queue = queue
        self._metrics = metrics

    def publish(self, changes: Sequence[Change]) -> list[str]:
        worth = [(c.position, e) for c in changes if (e := event_from_change(c.old, c.new)) is not None]
        refused = self._queue.put_many([e for _, e in worth])
        if len(worth) > len(refused):
            self._metrics.count("StatusEventsQueued", len(worth) - len(refused))
        return [worth[i][0] for i in sorted(refused)]


@dataclass(frozen=True)
class Waiting:
    """A queued event: its queue message's id, body, ordered group and how often it has come."""

    record_id: str
    body: str
    group: str
    receive_count: int = 1


@dataclass(frozen=True)
class Refused:
    record_id: str
    problem: str
    delay_seconds: int


def redelivery_delay(receive_count: int) -> int:
    """The wait before the next try: doubling from FIRST_WAIT_SECONDS, at most LONGEST_WAIT_SECONDS."""
    return min(LONGEST_WAIT_SECONDS, FIRST_WAIT_SECONDS << min(16, max(0, receive_count - 1)))


def _event_id(body: str, fallback: str) -> str:
    """The event's own id (the same for the same change, however often it is queued)."""
    try:
        value = json.loads(body).get("event_id")
    except (ValueError, AttributeError):
        return fallback
    return value if isinstance(value, str) and value else fallback


class StatusNotifier:
    """functions/status_notifier: each event POSTed to the business's receiver, signed with every
    live status signing secret (Standard Webhooks). Returns the events the receiver did not take, each with the wait before its next
    try; behind a refused event, the later events of its group wait too (one message's events go in
    order). The receiver's URL is never logged."""

    def __init__(
        self,
        http: Http,
        secrets: Callable[[], Sequence[str]],
        url: str,
        metrics: MetricsSink,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._secrets = secrets
        self._url = url
        self._metrics = metrics
        self._clock = clock

    def _post(self, event: Waiting) -> str | None:
        raw = event.body.encode()
        event_id = _event_id(event.body, event.record_id)
        headers = {"Content-Type": "application/json"} | signed(
            self._secrets(), event_id, int(self._clock()), raw
        )
        try:
            answer = self._http.post(self._url, raw, headers)
        except HttpFailure as exc:
            return exc.kind
        return None if 200 <= answer.status < 300 else f"HTTP {answer.status}"

    def deliver(self, events: Sequence[Waiting]) -> list[Refused]:
        refused: list[Refused] = []
        blocked: set[str] = set()
        for event in events:
            if event.group in blocked:
                problem: str | None = "behind an earlier event of its message"
            else:
                problem = self._post(event)
                if problem is not None:
                    log.warning("status event not delivered: %s", problem)
                    blocked.add(event.group)
            if problem is not None:
                refused.append(Refused(event.record_id, problem, redelivery_delay(event.receive_count)))
        if len(events) > len(refused):
            self._metrics.count("StatusEventsDelivered", len(events) - len(refused))
        if refused:
            self._metrics.count("StatusEventsRetried", len(refused))
        return refused
