"""Hold: a message for later goes on the agenda, its recipients SCHEDULED, and leaves the batch.

A message is for later when its `send_at` is more than a few seconds ahead, or when it is a promotion
and the promotional window is closed (it waits for the window's next opening). The reconciler puts
it back on the queue when it is due (tuma.services.reconciler); a redelivered schedule is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from tuma.formatting.clock import now_utc
from tuma.models.ledger import LedgerEntry, ScheduledMessage, Status
from tuma.models.privacy import MessageCategory, SendWindow
from tuma.ports import Agenda
from tuma.services.send_path.batch import Batch
from tuma.services.send_path.planning import Plan

# A send_at this close (or past) means now: the schedule would only add its own delay.
SEND_NOW_MARGIN = timedelta(seconds=5)


class Scheduler:
    def __init__(
        self,
        agenda: Agenda | None,
        *,
        window: SendWindow | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self._agenda = agenda
        self._window = window
        self._clock = clock

    def hold(self, batch: Batch, plans: Sequence[Plan]) -> list[Plan]:
        """The plans to send now; the others are held (without an agenda, nothing is)."""
        if self._agenda is None:
            return list(plans)
        now = self._clock()
        return [plan for plan in plans if not self._held(batch, plan, now)]

    def _due(self, plan: Plan, now: datetime) -> datetime | None:
        due = plan.message.send_at
        if self._window is not None and plan.category is MessageCategory.PROMOTIONAL:
            due = self._window.next_opening(max(now, due or now)) or due
        return due if due is not None and due > now + SEND_NOW_MARGIN else None

    def _held(self, batch: Batch, plan: Plan, now: datetime) -> bool:
        assert self._agenda is not None
        due = self._due(plan, now)
        if due is None:
            return False
        message = plan.message.model_copy(update={"send_at": due})
        entries = [
            LedgerEntry(
                message.idempotency_key,
                r.ref,
                r.masked,
                Status.SCHEDULED,
                template=message.template,
                source=message.source,
                scheduled_for=due,
                updated_at=now,
            )
            for r in plan.recipients
        ]
        body = message.model_copy(update={"send_at": None}).to_json()
        if self._agenda.schedule(ScheduledMessage(message.idempotency_key, due, body), entries):
            batch.tally.count("MessagesScheduled")
        else:
            batch.tally.count("DuplicatesSkipped")
        return True
