"""The retention schedule: after `days` (RetentionDays), a message's text and a payment's payer number
and account leave the ledger; what billing and reconciliation need stays (key, status, parts, provider
message id, times, the masked number) until the ledger's own expiry removes the whole entry.

A day (East Africa) at a time, oldest first, a few pages a run: the checkpoint says where the sweep
stands, so that a run cut short, or a reconciler that was off for a week, carries on where it was.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from tuma.formatting.clock import EAT, now_utc

if TYPE_CHECKING:
    from tuma.ports import RetentionStore


class RetentionSweep:
    def __init__(
        self,
        store: RetentionStore,
        days: int,
        *,
        oldest_days: int = 180,
        pages_per_run: int = 10,
        page_size: int = 100,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        """`days` 0: keep everything. `oldest_days`: where a first sweep starts (the ledger's own
        expiry: nothing older is left)."""
        self._store = store
        self._days = days
        self._oldest = oldest_days
        self._pages = pages_per_run
        self._page_size = page_size
        self._clock = clock

    def last_day(self) -> date:
        """The newest day whose personal data is due to go."""
        return self._clock().astimezone(EAT).date() - timedelta(days=self._days)

    def run(self) -> int:
        """Redact what is due, a few pages of it; how many records were redacted."""
        if self._days <= 0:
            return 0
        last = self.last_day()
        checkpoint = self._store.checkpoint()
        if checkpoint is None:
            day, start = last - timedelta(days=max(self._oldest - self._days, 0)), None
        else:
            day, start = date.fromisoformat(checkpoint[0]), checkpoint[1]
        where = (day, start)
        redacted = 0
        for _ in range(self._pages):
            if day > last:
                break
            count, start = self._store.redact(day.isoformat(), start, self._page_size)
            redacted += count
            if start is None:
                day += timedelta(days=1)
        if (day, start) != where:
            self._store.save_checkpoint(day.isoformat(), start)
        return redacted
