"""One window of the pull (tuma.services.pull): what a run of one short code did, and the reading of
its pages, the window cut in two while more rows are new than one run should apply.

A window is read whole before any row is applied. When more than `max_rows` of its rows are newer
than the last good window's end, its new part is cut in two, never below that end plus MIN_STEP:
the overlap is read whatever its size, and the checkpoint always moves.

Time: the query starts `ZONE_DOUBT` earlier than the window, so that whichever clock Daraja reads
the dates in (Kenyan time or UTC: `tuma.models.pull.PullTimes`), no payment falls outside both
readings.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tuma.models.daraja import PullTimes
from tuma.models.payments import InvalidPayment
from tuma.models.pull import PulledTransaction, read_row

if TYPE_CHECKING:
    from tuma.ports import DarajaPull

log = logging.getLogger(__name__)
# Kenyan time and UTC differ by three hours: the query starts this much earlier than the window.
ZONE_DOUBT = timedelta(hours=3)
MAX_PAGES = 200  # whatever Daraja's page size, a window is never read past this many pages
MAX_ROWS = 10_000  # a window with more new rows is cut in two (DARAJA_PULL_MAX_ROWS)
MIN_STEP = timedelta(minutes=1)  # a window cut in two still moves the checkpoint this much

Row = PulledTransaction | InvalidPayment  # a row read, or why it cannot make a receipt


class UnreadablePage(Exception):
    pass


class _TooMany(Exception):
    pass


@dataclass
class ShortCodeRun:
    short_code: str
    start: datetime | None = None
    end: datetime | None = None
    pages: int = 0
    rows: int = 0
    seen: int = 0  # payments pull saw for the first time
    recovered: int = 0  # receipts the pull made: the callback never came, failed half-way, or had no number
    rejected: int = 0
    skipped: int = 0  # rows that are not customer payments
    skipped_kinds: Counter[str] = field(default_factory=Counter)
    failure: str | None = None
    clipped: bool = False  # the checkpoint was older than Daraja's 48 hours: some of it is lost
    halved: int = 0  # times the window was cut in two to fit MAX_ROWS
    unfinished: bool = False  # out of time before every payment was applied: read again next run

    def summary(self) -> dict[str, object]:
        return {
            "short_code": self.short_code,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "pages": self.pages,
            "rows": self.rows,
            "seen": self.seen,
            "recovered": self.recovered,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "skipped_kinds": dict(self.skipped_kinds),
            "failure": self.failure,
            "clipped": self.clipped,
            "halved": self.halved,
            "unfinished": self.unfinished,
        }


class WindowReader:
    def __init__(
        self,
        daraja: DarajaPull,
        *,
        times: PullTimes,
        max_rows: int,
        short_of_time: Callable[[], bool],
    ) -> None:
        self._daraja = daraja
        self._times = times
        self._max_rows = max_rows
        self._short_of_time = short_of_time

    def read(self, run: ShortCodeRun, since: datetime) -> list[Row]:
        """Every row of the window; its end moved earlier while too many rows are newer than `since`."""
        assert run.start is not None and run.end is not None
        floor = since + MIN_STEP
        while True:
            try:
                return self._read_window(run, since if run.end > floor else None)
            except _TooMany:
                run.end = max(floor, floor + (run.end - floor) / 2)
                run.halved += 1
                run.pages = run.rows = 0
                log.info(
                    "pull for %s: more than %d new rows, window cut to end at %s",
                    run.short_code,
                    self._max_rows,
                    run.end,
                )

    def _read_window(self, run: ShortCodeRun, since: datetime | None) -> list[Row]:
        """Every page; _TooMany as soon as more than `max_rows` rows are newer than `since`."""
        read: list[Row] = []
        new = 0
        while (rows := self._page(run, len(read))) is not None:
            page = [_row(row) for row in rows]
            read.extend(page)
            if since is not None:
                new += sum(self._newer(row, since) for row in page)
                if new > self._max_rows:
                    raise _TooMany
        return read

    def _page(self, run: ShortCodeRun, offset: int) -> list[dict[str, Any]] | None:
        """The rows from `offset` (None: the window has no more)."""
        assert run.start is not None and run.end is not None
        if run.pages >= MAX_PAGES:
            raise UnreadablePage(f"more than {MAX_PAGES} pages in one window")
        if self._short_of_time():
            raise UnreadablePage("out of time before the window was read")
        rows = self._daraja.pull(run.short_code, run.start - ZONE_DOUBT, run.end, offset)
        run.pages += 1
        run.rows += len(rows)
        return rows or None

    def _newer(self, row: Row, since: datetime) -> bool:
        paid = row.paid_at(self._times) if isinstance(row, PulledTransaction) else None
        return paid is None or paid > since


def _row(row: Any) -> Row:
    try:
        return read_row(row)
    except InvalidPayment as problem:
        return problem
