"""Pull reconciliation: every C2B payment M-Pesa has gets its receipt, even when its callback never came.

Safaricom's own remedy for lost C2B notifications is its Pull Transactions API. On a schedule this
service reads, for each short code, every page of the transactions from its checkpoint (minus an
overlap) up to now, and puts each one through the same intake as a confirmation callback, keyed by
the M-Pesa receipt number: a payment whose callback came (or comes later) still makes one SMS.

A window is all or nothing: every page is read before any row is applied, and the checkpoint moves
only when the whole window was applied. Daraja down, slow, refusing or talking nonsense leaves the
checkpoint where it was, so the next run asks for the same window again; no window is ever skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tuma.formatting.clock import parse_time
from tuma.models.daraja import DarajaFailure
from tuma.models.ledger import PaymentSeen
from tuma.models.payments import InvalidPayment, Payment
from tuma.models.pull import PulledTransaction
from tuma.models.sources import PaymentSource

if TYPE_CHECKING:
    from tuma.ports import DarajaPull, Ledger, MetricsSink, StateStore
    from tuma.services.intake import Intake

log = logging.getLogger(__name__)
# Daraja keeps 48 hours of transactions; a window reaching further back would silently miss rows.
DARAJA_HORIZON = timedelta(hours=48)
MAX_PAGES = 200  # a window of more rows than this is cut in two by the next runs, never half-read
SEEN_BY_PULL = "PaymentsSeenByPull"
RECOVERED_BY_PULL = "PaymentsRecoveredByPull"
PULL_FAILED = "DarajaPullFailed"
UNCONFIRMED = "PaymentsUnconfirmed"  # a callback's payment M-Pesa's own record does not have


class UnreadablePage(Exception):
    pass


@dataclass
class ShortCodeRun:
    short_code: str
    start: datetime | None = None
    end: datetime | None = None
    pages: int = 0
    rows: int = 0
    seen: int = 0  # payments pull saw for the first time
    recovered: int = 0  # of those, the ones no other source had reported: their callback never came
    rejected: int = 0
    skipped: int = 0  # rows that are not customer payments
    failure: str | None = None
    clipped: bool = False  # the checkpoint was older than Daraja's 48 hours: some of it is lost

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
            "failure": self.failure,
            "clipped": self.clipped,
        }


@dataclass
class PullReport:
    runs: list[ShortCodeRun] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)  # marked UNCONFIRMED by this run

    @property
    def failed(self) -> bool:
        return any(run.failure for run in self.runs)


def checkpoint_name(short_code: str) -> str:
    return f"daraja-pull#{short_code}"


class PullReconciler:
    def __init__(
        self,
        daraja: DarajaPull,
        state: StateStore,
        intake: Intake,
        ledger: Ledger,
        metrics: MetricsSink,
        *,
        short_codes: Callable[[], Sequence[str]],
        overlap: timedelta,
        now: Callable[[], datetime],
        time_left: Callable[[], float] | None = None,
        confirm_within: timedelta = timedelta(minutes=30),
    ) -> None:
        """`confirm_within`: how long after a callback's payment M-Pesa's own record must list it
        (two pull windows): past that, the payment is marked UNCONFIRMED and the alarm fires."""
        self._daraja = daraja
        self._state = state
        self._intake = intake
        self._ledger = ledger
        self._metrics = metrics
        self._short_codes = short_codes  # read at each run: the secret may change between runs
        self._overlap = overlap
        self._now = now
        self._time_left = time_left
        self._confirm_within = confirm_within

    def run(self) -> PullReport:
        report = PullReport()
        for code in self._short_codes():
            report.runs.append(self._one(code))
        if report.runs and not report.failed:
            report.unconfirmed = self._flag_unconfirmed(report.runs)
        return report

    def _flag_unconfirmed(self, runs: Sequence[ShortCodeRun]) -> list[str]:
        """Reconciliation the other way: a payment a callback reported that M-Pesa's own record,
        read past its time by every short code's windows, does not have. What slipped past the
        addresses, the token and the short codes shows here."""
        covered = [self._covered_since(run.short_code) for run in runs]
        ends = [run.end for run in runs if run.end is not None]
        if not ends or None in covered:
            return []
        before = min(ends) - self._confirm_within
        since = max([before - DARAJA_HORIZON, *(c for c in covered if c is not None)])
        if since >= before:
            return []
        now = self._now()
        marked = [
            r
            for r in self._ledger.unconfirmed_payments(since, before)
            if self._ledger.mark_unconfirmed(r, now)
        ]
        for reference in marked:
            log.error(
                "M-Pesa's own record has no payment %s, which a callback reported: UNCONFIRMED", reference
            )
        if marked:
            self._metrics.count(UNCONFIRMED, len(marked))
        return marked

    def _covered_since(self, short_code: str) -> datetime | None:
        """Since when every window of this short code has been read (None: not yet, or unreadable)."""
        document = self._state.read(checkpoint_name(short_code)) or {}
        try:
            return parse_time(document["covered_since"]) if "covered_since" in document else None
        except ValueError:
            return None

    def window(self, short_code: str, end: datetime) -> tuple[datetime, bool]:
        """From the last good window's end minus the overlap (or from where a failed window began,
        if earlier), never further back than Daraja keeps. The first window is the overlap."""
        document = self._state.read(checkpoint_name(short_code)) or {}
        start = end - self._overlap
        try:
            if "until" in document:
                start = min(parse_time(document["until"]), end) - self._overlap
            if "from" in document:
                start = min(start, parse_time(document["from"]))
        except ValueError:
            log.error("pull for %s: unreadable checkpoint %r, reading the last overlap", short_code, document)
        horizon = end - DARAJA_HORIZON + timedelta(minutes=5)  # a margin for clocks that disagree
        return max(start, horizon), start < horizon

    def _one(self, short_code: str) -> ShortCodeRun:
        end = self._now()
        start, clipped = self.window(short_code, end)
        run = ShortCodeRun(short_code, start, end, clipped=clipped)
        if clipped:
            log.error(
                "pull for %s: the last good window ended before Daraja's 48 hours; payments older "
                "than %s cannot be pulled any more (see the M-Pesa org portal)",
                short_code,
                start.isoformat(),
            )
        try:
            self._apply(run, self._read_window(run))
        except (DarajaFailure, UnreadablePage) as problem:
            run.failure = str(problem)
            self._metrics.count(PULL_FAILED)
            log.warning("pull for %s failed, window kept for the next run: %s", short_code, problem)
            # The next run starts no later than this window did, whenever it comes.
            document = self._state.read(checkpoint_name(short_code)) or {}
            if "from" not in document:
                self._state.write(checkpoint_name(short_code), document | {"from": start.isoformat()})
            return run
        covered = (self._state.read(checkpoint_name(short_code)) or {}).get("covered_since")
        if run.clipped or not covered:
            covered = start.isoformat()  # windows are whole from here on
        self._state.write(checkpoint_name(short_code), {"until": end.isoformat(), "covered_since": covered})
        return run

    def _read_window(self, run: ShortCodeRun) -> list[PulledTransaction]:
        assert run.start is not None and run.end is not None
        transactions: list[PulledTransaction] = []
        offset = 0
        while True:
            if run.pages >= MAX_PAGES:
                raise UnreadablePage(f"more than {MAX_PAGES} pages in one window")
            if self._time_left is not None and self._time_left() < 10:
                raise UnreadablePage("out of time before the window was read")
            rows = self._daraja.pull(run.short_code, run.start, run.end, offset)
            run.pages += 1
            if not rows:
                return transactions
            try:
                page = [PulledTransaction.of(row) for row in rows]
            except (ValueError, TypeError, AttributeError) as exc:
                raise UnreadablePage(f"page at offset {offset}: {type(exc).__name__}") from None
            transactions.extend(page)
            run.rows += len(page)
            offset += len(rows)

    def _apply(self, run: ShortCodeRun, transactions: list[PulledTransaction]) -> None:
        payments: list[Payment] = []
        for transaction in transactions:
            if not transaction.is_payment:
                run.skipped += 1
                continue
            try:
                payments.append(transaction.payment(run.short_code))
            except InvalidPayment as problem:
                self._reject(run, problem)
        unique = list({payment.reference: payment for payment in payments}.values())
        known = self._ledger.payment_sources([p.reference for p in unique])
        queue = [payment for payment in unique if self._to_queue(run, payment, known.get(payment.reference))]
        # M-Pesa's own record lists them: receipts held for its word go (whichever run first sees
        # them, so that one whose release was interrupted goes on the next read of its window).
        for fate in self._intake.confirm([p for p in unique if known.get(p.reference)]).values():
            self._metrics.count(fate.value)
        if queue:
            outcomes = self._intake.receipts(queue)
            unqueued = [p.reference for p, outcome in zip(queue, outcomes, strict=True) if outcome is None]
            if unqueued:
                raise UnreadablePage(f"{len(unqueued)} receipts could not be queued")
        self._metrics.count(SEEN_BY_PULL, run.seen)
        self._metrics.count(RECOVERED_BY_PULL, run.recovered)

    def _to_queue(self, run: ShortCodeRun, payment: Payment, sources: frozenset[str] | None) -> bool:
        """Whether the payment's receipt is queued by this read; notes and counts what pull saw."""
        if sources is None:
            # Nobody reported it: its callback never came. Counted once, when first found.
            run.seen += 1
            run.recovered += 1
            log.info("pull found %s, which no callback had reported", payment.reference)
            return True
        if sources == {PaymentSource.PULL}:
            # Known only through pull: queued again at each read of its window, so that a receipt
            # whose queueing failed half-way is never lost. The sender's claims keep it to one SMS.
            return True
        if PaymentSource.PULL not in sources:
            self._ledger.note_payment(PaymentSeen(payment.reference, PaymentSource.PULL))
            run.seen += 1
        return False

    def _reject(self, run: ShortCodeRun, problem: InvalidPayment) -> None:
        known = self._ledger.payment_sources([problem.key])
        if problem.key in known:
            return  # already recorded on an earlier run (or reported by a callback)
        self._ledger.note_payment(PaymentSeen(problem.key, PaymentSource.PULL))
        outcome = self._intake.invalid(problem, PaymentSource.PULL)
        run.rejected += 1
        self._metrics.count(outcome.fate.value)
