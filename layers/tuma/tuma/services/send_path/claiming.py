"""Claim: each (message, recipient) is claimed before the provider is called, so nothing goes twice.

Every delivery is claimed in one batched write: NEW ones are ours to send; DONE ones went already (a
ledger entry an interrupted attempt left QUEUED is completed from the claim); BUSY ones are being
sent by another invocation, and their record comes back later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from tuma.formatting.clock import now_utc
from tuma.models.ledger import PRIMARY, LedgerEntry, Status
from tuma.models.sending import Claim, Claimed, ClaimState, Delivery, Settlement
from tuma.ports import Claims, Ledger
from tuma.services.send_path.batch import Batch, RetryDelays

log = logging.getLogger(__name__)


class Claimer:
    def __init__(
        self,
        ledger: Ledger,
        claims: Claims,
        *,
        delays: RetryDelays,
        check_after: timedelta | None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        """`check_after`: when a completed entry's delivery report is first asked for (None: never)."""
        self._ledger = ledger
        self._claims = claims
        self._delays = delays
        self._check_after = check_after
        self._clock = clock

    def claim(
        self, batch: Batch, deliveries: Sequence[Delivery], remaining_ms: Callable[[], int] | None
    ) -> list[Delivery]:
        """What is ours to send. What an earlier attempt settled completes its ledger entry (added
        to `batch.completed` when it went, for its delivery-report check); a busy one comes back."""
        unique: dict[Claim, Delivery] = {}
        for delivery in deliveries:
            if delivery.claim in unique:  # the same event twice in one batch
                batch.tally.count("DuplicatesSkipped")
                continue
            unique[delivery.claim] = delivery
        if not unique:
            return []
        states = self._claims.claim(list(unique), remaining_ms() if remaining_ms else None)
        states = self._claimed_before_keyed_refs(unique, states)
        to_send: list[Delivery] = []
        completed: list[tuple[Delivery, Settlement, str | None]] = []
        for delivery, claimed in zip(unique.values(), states, strict=True):
            if claimed.state is ClaimState.NEW:
                to_send.append(replace(delivery, pinned=claimed.pinned) if claimed.pinned else delivery)
            elif claimed.state is ClaimState.DONE:
                batch.tally.count("DuplicatesSkipped")
                log.info("already sent %s to %s", delivery.idempotency_key, delivery.recipient.masked)
                if claimed.result is not None:
                    completed.append((delivery, claimed.result, claimed.entry_ref))
            else:
                batch.retry(
                    delivery.record_id, self._delays.busy_wait, "another invocation is sending this message"
                )
        batch.completed.extend(self._complete(batch, completed))
        return to_send

    def _claimed_before_keyed_refs(
        self, unique: dict[Claim, Delivery], states: list[Claimed]
    ) -> list[Claimed]:
        """Before 0.3.0 a message to a number was claimed under the number's unkeyed ref (`n:`, `h:`):
        a copy sent then, or being sent by a sender of the previous version during the deploy, is
        found under that claim, and this one does not go: ours is settled as that one was (a later
        copy stops at it) or released (busy). A receipt is claimed by its event, with no ref: nothing
        to look for. Legacy claims expire with the others (IDEMPOTENCY_TTL_SECONDS)."""
        older = _legacy_claims(unique, states)
        if not older:
            return states
        looked = dict(zip(older, self._claims.look(list(older.values())), strict=True))
        earlier = {
            claim: replace(old, entry_ref=older[claim][1])
            for claim, old in looked.items()
            if old.state is not ClaimState.NEW
        }
        self._follow(earlier)
        # Released by the previous version after an attempt that may have been accepted unseen: it
        # goes again, to the same provider.
        pins = {claim: old.pinned for claim, old in looked.items() if old.pinned}
        return [
            earlier.get(claim)
            or (replace(claimed, pinned=claimed.pinned or pins[claim]) if claim in pins else claimed)
            for claim, claimed in zip(unique, states, strict=True)
        ]

    def _follow(self, earlier: dict[Claim, Claimed]) -> None:
        """Our claims settle as the earlier ones did, or are let go while those are busy."""
        if settled := [(claim, old.result) for claim, old in earlier.items() if old.result is not None]:
            self._claims.settle(settled)
        if freed := [claim for claim, old in earlier.items() if old.result is None]:
            self._claims.release(freed)

    def _complete(
        self, batch: Batch, completed: list[tuple[Delivery, Settlement, str | None]]
    ) -> list[LedgerEntry]:
        """Ledger entries an attempt left QUEUED, after settling their claims, completed from those
        claims; the SENT ones, whose delivery reports are then asked for too (at worst twice: reports
        only move an entry forward). Usually this finds nothing (a plain duplicate): the entry is
        already past QUEUED and the conditional write is refused."""
        entries = [
            replace(entry, recipient_ref=ref) if ref else entry
            for d, settled, ref in completed
            if (entry := self._completion(d, settled))
        ]
        written = self._ledger.complete_queued(entries) if entries else 0
        if not written:
            return []
        batch.tally.count("LedgerCompleted", written)
        log.warning("completed %d ledger entries left QUEUED by an interrupted sender", written)
        return [e for e in entries if e.status is Status.SENT]

    def _completion(self, delivery: Delivery, settled: Settlement) -> LedgerEntry | None:
        now = self._clock()
        at = settled.at or now  # a claim settled before its time was recorded: now
        if settled.status is Status.SENT and settled.message_id:
            return delivery.entry(
                Status.SENT,
                provider=settled.provider or PRIMARY,
                provider_message_id=settled.message_id,
                sent_at=at,
                check_due_at=now + self._check_after if self._check_after is not None else None,
                updated_at=now,
            )
        if settled.status is Status.REJECTED:
            return delivery.entry(
                Status.REJECTED,
                provider_code=settled.code,
                reason="rejected by the provider",
                final_at=at,
                final_via="send",
                updated_at=now,
            )
        return None


def _legacy_claims(unique: dict[Claim, Delivery], states: list[Claimed]) -> dict[Claim, Claim]:
    """The claim each newly claimed message to a number had before 0.3.0, by its claim now."""
    return {
        claim: (delivery.idempotency_key, ref)
        for (claim, delivery), claimed in zip(unique.items(), states, strict=True)
        if claimed.state is ClaimState.NEW
        and not delivery.per_event
        and (ref := delivery.recipient.legacy_ref)
    }
