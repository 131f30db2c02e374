"""Settle: each provider verdict becomes a settled claim and a ledger entry, and the batch's loose
ends are tied: what went counts towards the guards, each message sent gets its delivery-report check,
and records that wait (for a retry or a guard) are answered or parked.

Claims are settled first, all at once: until they are, a crash would send these messages again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tuma.formatting.clock import now_utc
from tuma.models.ledger import PRIMARY, SECONDARY, DueCheck, LedgerEntry, Status
from tuma.models.provider_codes import CONFIGURATION_ALARM, Disposition, meaning
from tuma.models.sending import Claim, Delivery, SendResult, Settlement
from tuma.ports import Agenda, Claims, Ledger, OutboxQueue
from tuma.services.send_path.batch import Batch, RetryDelays
from tuma.services.send_path.sending import Sent

if TYPE_CHECKING:
    from tuma.services.guards import Guards

log = logging.getLogger(__name__)


class Settler:
    def __init__(
        self,
        ledger: Ledger,
        claims: Claims,
        *,
        delays: RetryDelays,
        agenda: Agenda | None = None,
        check_after: timedelta | None = None,
        guards: Guards | None = None,
        parking: OutboxQueue | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        """`check_after`: when a sent message's delivery report is first asked for (None: never)."""
        self._ledger = ledger
        self._claims = claims
        self._delays = delays
        self._agenda = agenda
        self._check_after = check_after
        self._guards = guards
        self._parking = parking
        self._clock = clock

    def settle(self, batch: Batch, sent: Sent) -> None:
        final = self._settle(batch, sent) if sent.deliveries else []
        if final:
            self._ledger.write(final)
        if self._guards is not None and final:
            went = {(e.idempotency_key, e.recipient_ref) for e in final if e.status is Status.SENT}
            self._guards.record(
                [d for d in sent.deliveries if (d.idempotency_key, d.recipient.ref) in went], self._clock()
            )
        self._check_later(final + batch.completed)
        self._park(batch)

    def _settle(self, batch: Batch, sent: Sent) -> list[LedgerEntry]:
        done: list[tuple[Claim, Settlement]] = []
        again: list[Claim] = []
        pins: dict[Claim, str] = {}
        stamp = self._clock()
        for index, delivery in enumerate(sent.deliveries):
            result = sent.results[index]
            if result.disposition is Disposition.SUCCESS:
                done.append(
                    (delivery.claim, Settlement(Status.SENT, stamp, result.message_id, result.provider))
                )
            elif result.disposition is Disposition.REJECT:
                done.append((delivery.claim, Settlement(Status.REJECTED, stamp, code=result.code)))
            else:
                again.append(delivery.claim)
                # A message the provider may have taken unseen goes back to it and nowhere else.
                pin = result.provider if result.maybe_accepted else delivery.pinned
                if pin:
                    pins[delivery.claim] = pin
        if done:
            self._claims.settle(done)
        if again:
            self._claims.release(again, pins)
        answered = self._clock()
        assert sent.queued_at is not None
        return [
            self._entry(batch, d, sent.results[i], queued_at=sent.queued_at, answered=answered)
            for i, d in enumerate(sent.deliveries)
        ]

    def _entry(
        self, batch: Batch, delivery: Delivery, result: SendResult, *, queued_at: datetime, answered: datetime
    ) -> LedgerEntry:
        times = {
            "queued_at": queued_at,
            "updated_at": answered,
            "provider": result.provider or delivery.pinned or PRIMARY,
        }
        if result.disposition is Disposition.SUCCESS:
            batch.tally.count("MessagesSent")
            batch.tally.count("SmsParts", delivery.text.parts)
            if result.provider == SECONDARY:
                batch.tally.count("MessagesSentBySecondary")  # the SecondaryProviderInUse alarm
            return delivery.entry(
                Status.SENT,
                provider_message_id=result.message_id,
                provider_code=result.code,
                sent_at=answered,
                check_due_at=answered + self._check_after if self._check_after is not None else None,
                **times,
            )
        if result.disposition is Disposition.REJECT:
            batch.tally.count("MessagesRejected")
            log.warning(
                "provider rejected %s for %s: %s",
                delivery.idempotency_key,
                delivery.recipient.masked,
                result.description,
            )
            return delivery.entry(
                Status.REJECTED,
                provider_code=result.code,
                reason=result.description,
                final_at=answered,
                final_via="send",
                **times,
            )
        return self._retrying(batch, delivery, result, times)

    def _retrying(
        self, batch: Batch, delivery: Delivery, result: SendResult, times: dict[str, object]
    ) -> LedgerEntry:
        batch.tally.count("SendRetried")
        alarm = meaning(result.code).alarm if result.code is not None else None
        if alarm is None and result.disposition in (Disposition.CONFIG, Disposition.CREDENTIALS):
            alarm = CONFIGURATION_ALARM  # refused before any call (no promotional sender ID, say)
        if alarm is not None:
            batch.tally.count(alarm)
            log.error("provider %s (%s): %s", alarm, result.code, result.description)
        receive_count = batch.receive_count(delivery.record_id)
        batch.retry(
            delivery.record_id, self._delays.for_result(result.disposition, receive_count), result.description
        )
        return delivery.entry(
            Status.RETRYING,
            provider_code=result.code,
            reason=f"will retry: {result.description}",
            attempts=receive_count,
            **times,
        )

    def _check_later(self, entries: Sequence[LedgerEntry]) -> None:
        if self._agenda is None:
            return
        checks = [
            DueCheck(
                e.idempotency_key,
                e.recipient_ref,
                e.provider_message_id,
                e.sent_at,
                e.check_due_at,
                provider=e.provider or PRIMARY,
            )
            for e in entries
            if e.status is Status.SENT and e.provider_message_id and e.sent_at and e.check_due_at
        ]
        self._agenda.add_checks(checks)

    def _park(self, batch: Batch) -> None:
        """A record whose messages wait goes back on its queue as a fresh message (its receive count
        starts again), unless it is coming back anyway; if it cannot be queued, it waits in place."""
        for record_id, seconds in batch.parked.items():
            if batch.retried(record_id):
                continue
            message = batch.messages.get(record_id)
            try:
                if self._parking is None:
                    raise ConnectionError("no queue to park on")
                self._parking.park(batch.body(record_id), message.fast if message else True, seconds)
            except Exception as exc:  # any failure: the message still comes back, by its visibility
                log.warning("could not park %s: %s", record_id, type(exc).__name__)
                batch.retry(record_id, seconds, "waiting for a guard")
