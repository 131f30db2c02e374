"""Pull reconciliation: every C2B payment M-Pesa has gets its receipt, even when its callback never came.

Safaricom's own remedy for lost C2B notifications is its Pull Transactions API. On a schedule this
service reads, for each short code, every page of the transactions from its checkpoint (minus an
overlap) up to a little before now, and puts each payment whose receipt neither went nor is on its
way through the same intake as a confirmation callback, keyed by the M-Pesa receipt number.

- What the pull asks of each payment is the mark intake leaves on its record once the receipt is
  queued or settled (tuma.models.ledger.ReceiptMark): no record, or a record without a mark (a
  callback that failed half-way), makes the receipt; a receipt recorded undeliverable for a masked
  number goes when the pull has the payer's plain number.
- A window is read whole before any row is applied (tuma.services.pull_window, which also cuts one
  with too many rows in two: the next window of the same run takes the rest). Rows are applied in
  time order, a hundred at a time, while time allows: what was applied is marked, so a run cut
  short makes progress and the next one skips it. The checkpoint moves only when a window was
  applied whole; Daraja down, slow, refusing or talking nonsense leaves it where it was.
- A row that cannot be read is one rejection with its reason; rows of other kinds (a settlement
  sweep) are skipped and counted by kind. One short code's trouble never stops the others.
- Payments younger than `grace` wait for the next run, so that their callback, which carries the
  payer's name, has its chance first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tuma.formatting.clock import parse_time
from tuma.formatting.phones import InvalidNumber, RecipientKind, parse_recipient
from tuma.models.daraja import DarajaFailure, PullTimes
from tuma.models.ledger import PaymentSeen, PaymentState, ReceiptMark
from tuma.models.payments import InvalidPayment, Payment
from tuma.models.sources import PaymentSource
from tuma.services.pull_window import (
    MAX_ROWS,
    ZONE_DOUBT,
    Row,
    ShortCodeRun,
    UnreadablePage,
    WindowReader,
)

if TYPE_CHECKING:
    from tuma.ports import DarajaPull, Ledger, MetricsSink, StateStore
    from tuma.services.intake import Intake

__all__ = ["ZONE_DOUBT", "PullReconciler", "PullReport", "ShortCodeRun", "checkpoint_name"]
log = logging.getLogger(__name__)
# Daraja keeps 48 hours of transactions; a window reaching further back would silently miss rows.
DARAJA_HORIZON = timedelta(hours=48)
APPLY_CHUNK = 100  # payments applied at a time: one batched read of their records each
TIME_RESERVE = 15.0  # seconds kept for writing the checkpoint and the run's report
SEEN_BY_PULL = "PaymentsSeenByPull"
RECOVERED_BY_PULL = "PaymentsRecoveredByPull"
PULL_FAILED = "DarajaPullFailed"
SKIPPED = "PulledRowsSkipped"  # rows that are no customer's payment into the business
UNCONFIRMED = "PaymentsUnconfirmed"  # a callback's payment M-Pesa's own record does not have


@dataclass
class PullReport:
    runs: list[ShortCodeRun] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)  # marked UNCONFIRMED by this run

    @property
    def failed(self) -> bool:
        return any(run.failure for run in self.runs)


def checkpoint_name(short_code: str) -> str:
    return f"daraja-pull#{short_code}"


def _plain(payment: Payment) -> bool:
    try:
        return payment.phone is not None and parse_recipient(payment.phone).kind is RecipientKind.MSISDN
    except InvalidNumber:
        return False


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
        grace: timedelta = timedelta(0),
        times: PullTimes = PullTimes.KENYA,
        max_rows: int = MAX_ROWS,
    ) -> None:
        """`confirm_within`: how long after a callback's payment M-Pesa's own record must list it
        (two pull windows): past that, the payment is marked UNCONFIRMED and the alarm fires.
        `grace`: how long a payment's callback has before the pull makes its receipt."""
        self._reader = WindowReader(daraja, times=times, max_rows=max_rows, short_of_time=self._short_of_time)
        self._state = state
        self._intake = intake
        self._ledger = ledger
        self._metrics = metrics
        self._short_codes = short_codes  # read at each run: the secret may change between runs
        self._overlap = overlap
        self._now = now
        self._time_left = time_left
        self._confirm_within = confirm_within
        self._grace = grace
        self._times = times

    def run(self) -> PullReport:
        report = PullReport()
        for code in self._short_codes():
            report.runs.extend(self._catch_up(code))
        if report.runs and not report.failed:
            report.unconfirmed = self._flag_unconfirmed(report.runs)
        return report

    def _catch_up(self, short_code: str) -> list[ShortCodeRun]:
        """Windows one after the other until this short code is read up to now less the grace, or
        time runs short, or one fails."""
        limit = self._now() - self._grace
        runs: list[ShortCodeRun] = []
        while True:
            run = self._one(short_code, limit)
            runs.append(run)
            if run.failure or run.unfinished or run.end is None or run.end >= limit or self._short_of_time():
                return runs

    def _short_of_time(self) -> bool:
        return self._time_left is not None and self._time_left() < TIME_RESERVE

    def _flag_unconfirmed(self, runs: Sequence[ShortCodeRun]) -> list[str]:
        """Reconciliation the other way: a payment a callback reported that M-Pesa's own record,
        read past its time by every short code's windows, does not have. What slipped past the
        addresses, the token and the short codes shows here."""
        period = self._read_through(runs)
        if period is None:
            return []
        now = self._now()
        marked = [
            r for r in self._ledger.unconfirmed_payments(*period) if self._ledger.mark_unconfirmed(r, now)
        ]
        for reference in marked:
            log.error(
                "M-Pesa's own record has no payment %s, which a callback reported: UNCONFIRMED", reference
            )
        if marked:
            self._metrics.count(UNCONFIRMED, len(marked))
        return marked

    def _read_through(self, runs: Sequence[ShortCodeRun]) -> tuple[datetime, datetime] | None:
        """The period every short code's windows have read whole, and long enough ago that Daraja
        lists what it has (None: there is none yet)."""
        codes = {run.short_code for run in runs}
        ends: dict[str, datetime] = {}
        for run in runs:
            if run.end is not None and not run.unfinished:
                ends[run.short_code] = max(run.end, ends.get(run.short_code, run.end))
        covered = [self._covered_since(code) for code in codes]
        if len(ends) < len(codes) or None in covered:
            return None
        before = min(ends.values()) - self._confirm_within
        since = max([before - DARAJA_HORIZON, *(c for c in covered if c is not None)])
        return (since, before) if since < before else None

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
        start, _ = self._bounds(short_code, end)
        horizon = end - DARAJA_HORIZON + ZONE_DOUBT + timedelta(minutes=5)  # margins: clocks, zones
        return max(start, horizon), start < horizon

    def _bounds(self, short_code: str, end: datetime) -> tuple[datetime, datetime | None]:
        """The window's start, and the last good window's end (None: no window was applied yet)."""
        document = self._state.read(checkpoint_name(short_code)) or {}
        start, until = end - self._overlap, None
        try:
            if "until" in document:
                until = parse_time(document["until"])
                start = min(until, end) - self._overlap
            if "from" in document:
                start = min(start, parse_time(document["from"]))
        except ValueError:
            log.error("pull for %s: unreadable checkpoint %r, reading the last overlap", short_code, document)
        return start, until

    def _one(self, short_code: str, limit: datetime) -> ShortCodeRun:
        start, clipped = self.window(short_code, limit)
        _, until = self._bounds(short_code, limit)
        run = ShortCodeRun(short_code, start, limit, clipped=clipped)
        if clipped:
            log.error(
                "pull for %s: the last good window ended before Daraja's 48 hours; payments older "
                "than %s cannot be pulled any more (see the M-Pesa org portal)",
                short_code,
                start.isoformat(),
            )
        try:
            self._apply(run, self._reader.read(run, max(until or start, start)))
        except Exception as problem:  # one short code's trouble never stops the others
            run.failure = (
                str(problem) if isinstance(problem, DarajaFailure | UnreadablePage) else repr(problem)
            )
            self._metrics.count(PULL_FAILED)
            log.warning("pull for %s failed, window kept for the next run: %s", short_code, run.failure)
            self._keep_from(short_code, start)
            return run
        if run.unfinished:
            log.warning(
                "pull for %s: out of time in the window from %s; read again next run", short_code, start
            )
            self._keep_from(short_code, start)
            return run
        covered = (self._state.read(checkpoint_name(short_code)) or {}).get("covered_since")
        if run.clipped or not covered:
            covered = start.isoformat()  # windows are whole from here on
        assert run.end is not None
        self._state.write(
            checkpoint_name(short_code), {"until": run.end.isoformat(), "covered_since": covered}
        )
        return run

    def _keep_from(self, short_code: str, start: datetime) -> None:
        """The next run starts no later than this window did, whenever it comes."""
        document = self._state.read(checkpoint_name(short_code)) or {}
        if "from" not in document:
            self._state.write(checkpoint_name(short_code), document | {"from": start.isoformat()})

    # -- applying --------------------------------------------------------------------------------

    def _apply(self, run: ShortCodeRun, transactions: list[Row]) -> None:
        payments: dict[str, Payment] = {}
        for transaction in transactions:
            if isinstance(transaction, InvalidPayment):
                self._reject(run, transaction)
            elif not transaction.is_payment:
                run.skipped += 1
                run.skipped_kinds[transaction.kind] += 1
            else:
                try:
                    payment = transaction.payment(run.short_code, self._times)
                except InvalidPayment as problem:
                    self._reject(run, problem)
                    continue
                payments.setdefault(payment.reference, payment)
        if run.skipped:
            self._metrics.count(SKIPPED, run.skipped)
            log.info(
                "pull for %s skipped rows that are no customer payment: %s",
                run.short_code,
                dict(run.skipped_kinds),
            )
        ordered = sorted(
            payments.values(), key=lambda p: (p.paid_at is None, p.paid_at or run.start, p.reference)
        )
        seen, recovered = run.seen, run.recovered
        for first in range(0, len(ordered), APPLY_CHUNK):
            if self._short_of_time():
                run.unfinished = True
                break
            self._apply_chunk(run, ordered[first : first + APPLY_CHUNK])
        self._metrics.count(SEEN_BY_PULL, run.seen - seen)
        self._metrics.count(RECOVERED_BY_PULL, run.recovered - recovered)

    def _apply_chunk(self, run: ShortCodeRun, payments: Sequence[Payment]) -> None:
        states = self._ledger.payment_states([p.reference for p in payments])
        queue = [p for p in payments if self._to_queue(run, p, states.get(p.reference))]
        # M-Pesa's own record lists them: receipts held for its word go (whichever run first sees
        # them, so that one whose release was interrupted goes on the next read of its window).
        held = [p for p in payments if getattr(states.get(p.reference), "receipt", None) is ReceiptMark.HELD]
        for fate in self._intake.confirm(held).values():
            self._metrics.count(fate.value)
        outcomes = self._intake.receipts(queue, backlog=True) if queue else []
        unqueued = sum(outcome is None for outcome in outcomes)
        if unqueued:
            raise UnreadablePage(f"{unqueued} receipts could not be queued")

    def _to_queue(self, run: ShortCodeRun, payment: Payment, state: PaymentState | None) -> bool:
        """Whether this read makes the payment's receipt; notes and counts what pull saw."""
        if state is None:
            # Nobody reported it: its callback never came (or failed before anything was kept).
            run.seen += 1
            run.recovered += 1
            log.info("pull found %s, which no callback had reported", payment.reference)
            return True
        first_sight = PaymentSource.PULL not in state.sources
        run.seen += first_sight
        if state.receipt is None:
            # Reported, but its receipt was never queued: the report failed half-way.
            run.recovered += 1
            log.warning("pull found %s reported without its receipt queued: queued now", payment.reference)
            return True
        if state.receipt is ReceiptMark.UNDELIVERABLE and _plain(payment):
            run.recovered += 1
            log.warning(
                "pull has the payer's number for %s, recorded undeliverable: queued now", payment.reference
            )
            return True
        if first_sight:
            self._ledger.note_payment(
                PaymentSeen(payment.reference, PaymentSource.PULL, paid_at=payment.paid_at)
            )
        return False

    def _reject(self, run: ShortCodeRun, problem: InvalidPayment) -> None:
        if problem.key in self._ledger.payment_states([problem.key]):
            return  # already recorded on an earlier run (or reported by a callback)
        outcome = self._intake.invalid(problem, PaymentSource.PULL)
        self._ledger.note_payment(PaymentSeen(problem.key, PaymentSource.PULL, receipt=ReceiptMark.REJECTED))
        run.rejected += 1
        self._metrics.count(outcome.fate.value)
