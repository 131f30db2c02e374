"""Judge: what the people's wishes (tuma.services.privacy) and the guards (tuma.services.guards) let
go now, after the claims (a duplicate never counts) and before any money is spent.

- Suppressed, or a promotion without consent: settled for good (SUPPRESSED costs nothing and is
  never retried; a promotion without consent is REJECTED).
- Held by a guard (paused, a cap, a number's hourly limit): the claim is released and the entry is
  RETRYING with the reason; the record is parked to come back.
- Refused or collapsed by a guard: settled REJECTED with the reason.

The judge has the claims made (tuma.services.send_path.claiming) once it has started its reads (the
suppression list, the guards' documents), so that they overlap the claims' writes: judging adds no
round trip to a receipt's way (bench/latency.py), and it judges only what the claims kept.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tuma.formatting.clock import now_utc
from tuma.models.ledger import LedgerEntry, Status
from tuma.models.privacy import ERASED_RECIPIENT, MessageCategory
from tuma.models.privacy_records import PrivacyRecord
from tuma.models.sending import Delivery, Settlement
from tuma.ports import Claims, Ledger
from tuma.services.send_path.batch import Batch

if TYPE_CHECKING:
    from tuma.services.guards import Guards, Judged, Verdict
    from tuma.services.privacy import Privacy

log = logging.getLogger(__name__)
NO_PRIVACY_TABLE = "promotions need the privacy table (PRIVACY_TABLE)"


@dataclass(frozen=True)
class Reads:
    """The judge's reads, started in the background (None: nothing to read, or no such store)."""

    guards: Future[dict[str, dict[str, Any]]] | None = None
    wishes: Future[dict[str, PrivacyRecord]] | None = None


class Judge:
    def __init__(
        self,
        ledger: Ledger,
        claims: Claims,
        *,
        privacy: Privacy | None = None,
        guards: Guards | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self._ledger = ledger
        self._claims = claims
        self._privacy = privacy
        self._guards = guards
        self._clock = clock

    def judge(
        self, batch: Batch, candidates: Sequence[Delivery], claim: Callable[[], Sequence[Delivery]]
    ) -> list[Delivery]:
        """What may go now. `claim` makes the claims of `candidates` and answers what they kept; the
        judge calls it once its own reads are under way, and judges only what it kept. What may
        not go is settled or parked here."""
        reads = self._start_reads(candidates)
        wished = self._screen(batch, list(claim()), reads.wishes)
        return self._guard(batch, wished, reads.guards)

    def _start_reads(self, candidates: Sequence[Delivery]) -> Reads:
        if not candidates:
            return Reads()
        guards = self._guards.prefetch(candidates, self._clock()) if self._guards else None
        wishes = self._privacy.prefetch(candidates) if self._privacy else None
        return Reads(guards, wishes)

    # -- the people's wishes --------------------------------------------------------------------

    def _screen(
        self, batch: Batch, deliveries: list[Delivery], prefetched: Future[dict[str, PrivacyRecord]] | None
    ) -> list[Delivery]:
        if not deliveries:
            return deliveries
        if self._privacy is None:
            go, stopped = _without_wishes(deliveries)
        else:
            go, screened = self._privacy.screen(deliveries, prefetched)
            erased = [s.delivery for s in screened if s.erased]
            if erased:
                self._forget(batch, erased)
            stopped = [
                (s.delivery, Status.SUPPRESSED if s.suppressed else Status.REJECTED, s.reason)
                for s in screened
                if not s.erased
            ]
        if stopped:
            self._stop(batch, stopped)
        return go

    def _forget(self, batch: Batch, erased: list[Delivery]) -> None:
        """A message to an erased person, from before the erasure: recorded as not sent under a ref that
        leads to no one, without the number or the text; its claim, which would lead back, is freed."""
        from tuma.services.privacy import ERASED_REASON

        now = self._clock()
        self._claims.release([d.claim for d in erased])
        entries = []
        for delivery in erased:
            batch.tally.count("MessagesSuppressed")
            log.info("not sending %s: its recipient was erased", delivery.idempotency_key)
            entry = delivery.entry(
                Status.SUPPRESSED, reason=ERASED_REASON, final_at=now, final_via="send", updated_at=now
            )
            entries.append(
                replace(
                    entry, recipient_ref=f"x:{secrets.token_hex(12)}", recipient=ERASED_RECIPIENT, text=None
                )
            )
        self._ledger.write(entries)

    def _stop(self, batch: Batch, stopped: list[tuple[Delivery, Status, str]]) -> None:
        now = self._clock()
        self._claims.settle([(d.claim, Settlement(status, now)) for d, status, _ in stopped])
        entries = []
        for delivery, status, reason in stopped:
            batch.tally.count("MessagesSuppressed" if status is Status.SUPPRESSED else "MessagesRejected")
            log.info("not sending %s to %s: %s", delivery.idempotency_key, delivery.recipient.masked, reason)
            entries.append(
                delivery.entry(status, reason=reason, final_at=now, final_via="send", updated_at=now)
            )
        self._ledger.write(entries)

    # -- the guards -----------------------------------------------------------------------------

    def _guard(
        self,
        batch: Batch,
        deliveries: list[Delivery],
        prefetched: Future[dict[str, dict[str, Any]]] | None,
    ) -> list[Delivery]:
        if self._guards is None or not deliveries:
            return deliveries
        from tuma.services.guards import Verdict

        now = self._clock()
        judged = self._guards.judge(deliveries, now, prefetched)
        by_verdict: dict[Verdict, list[Judged]] = {verdict: [] for verdict in Verdict}
        for one in judged:
            by_verdict[one.verdict].append(one)
        waiting = by_verdict[Verdict.WAIT]
        ended = by_verdict[Verdict.REFUSE] + by_verdict[Verdict.COLLAPSE]
        if waiting:
            self._wait(batch, waiting)
        if ended:
            self._end(batch, ended, now)
        if waiting or ended:
            self._ledger.write(_held_entries(waiting, now) + _ended_entries(ended, now))
        return [one.delivery for one in by_verdict[Verdict.SEND]]

    def _wait(self, batch: Batch, waiting: Sequence[Judged]) -> None:
        self._claims.release([j.delivery.claim for j in waiting])
        batch.tally.count("MessagesHeldByGuards", len(waiting))
        for one in waiting:
            batch.park(one.delivery.record_id, one.wait_seconds)

    def _end(self, batch: Batch, ended: Sequence[Judged], now: datetime) -> None:
        from tuma.services.guards import Verdict

        self._claims.settle([(j.delivery.claim, Settlement(Status.REJECTED, now)) for j in ended])
        for one in ended:
            batch.tally.count("AlertsCollapsed" if one.verdict is Verdict.COLLAPSE else "MessagesRateLimited")


def _held_entries(waiting: Sequence[Judged], now: datetime) -> list[LedgerEntry]:
    return [j.delivery.entry(Status.RETRYING, reason=j.reason, updated_at=now) for j in waiting]


def _ended_entries(ended: Sequence[Judged], now: datetime) -> list[LedgerEntry]:
    return [
        j.delivery.entry(Status.REJECTED, reason=j.reason, final_at=now, final_via="send", updated_at=now)
        for j in ended
    ]


def _without_wishes(deliveries: list[Delivery]) -> tuple[list[Delivery], list[tuple[Delivery, Status, str]]]:
    """Without the privacy table nobody's wishes can be read: promotions cannot go at all."""
    promotional = MessageCategory.PROMOTIONAL
    stopped = [
        (d, Status.REJECTED, NO_PRIVACY_TABLE) for d in deliveries if d.message_category is promotional
    ]
    return [d for d in deliveries if d.message_category is not promotional], stopped
