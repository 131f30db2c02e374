"""The dispatcher: a batch of outbox messages in, SMS out, every fate in the ledger.

Per batch: parse and plan every message, claim each (message, recipient) so that nothing is sent
twice, send what is new in as few provider calls as possible, settle each claim by its result and
say which inbound messages should come back later, and after how long.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeGuard

from pydantic import ValidationError

from tuma.errors import ConfigurationError
from tuma.formatting.clock import now_utc
from tuma.formatting.phones import KENYA_ONLY, InvalidNumber, parse_recipient
from tuma.models.ledger import (
    NO_RECIPIENT_REF,
    PRIMARY,
    SECONDARY,
    DueCheck,
    LedgerEntry,
    ScheduledMessage,
    Status,
)
from tuma.models.outbox import OutboxMessage, key_of
from tuma.models.privacy import MessageCategory
from tuma.models.provider_codes import CONFIGURATION_ALARM, Disposition, meaning
from tuma.models.sending import BulkMessage, Claim, ClaimState, SendResult, Settlement
from tuma.models.templates import Catalog
from tuma.models.validation import summarize
from tuma.ports import Agenda, Claims, Ledger, MetricsSink, OutboxQueue, Sender, TemplateSource
from tuma.services.planning import (
    RANK,
    Delivery,
    ProviderRoute,
    category_of,
    plan_message,
    plan_recipients,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

    from tuma.models.privacy import PrivacyRecord
    from tuma.services.guards import Guards
    from tuma.services.privacy import Privacy, SendWindow

log = logging.getLogger(__name__)
# A send_at this close (or past) means now: the schedule would only add its own delay.
SEND_NOW_MARGIN = timedelta(seconds=5)


@dataclass(frozen=True)
class Inbound:
    """One queued outbox message, whatever carried it (an SQS record, a test)."""

    record_id: str
    body: str
    receive_count: int = 1


@dataclass(frozen=True)
class RecordOutcome:
    record_id: str
    retry: bool = False
    delay_seconds: int = 0
    reason: str | None = None


@dataclass(frozen=True)
class RetryDelays:
    """How long a message waits before it comes back, by what went wrong."""

    transient_base: int = 15
    transient_max: int = 900
    provider_asked: int = 300  # 4090 "try after 5 minutes"; 1004 until credit is topped up
    configuration: int = 600  # an operator has to act; do not spin
    busy: int | None = None  # another invocation holds the claim: twice the transient wait

    @property
    def busy_wait(self) -> int:
        return 2 * self.transient_base if self.busy is None else self.busy

    def for_result(self, disposition: Disposition, receive_count: int) -> int:
        if disposition is Disposition.RETRY_LATER:
            return self.provider_asked
        if disposition in (Disposition.CONFIG, Disposition.CREDENTIALS):
            return self.configuration
        return min(self.transient_max, self.transient_base << max(0, receive_count - 1))


class _Tally:
    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def count(self, name: str, value: float = 1) -> None:
        self._counts[name] += int(value)

    def flush(self, sink: MetricsSink) -> None:
        for name, value in sorted(self._counts.items()):
            sink.count(name, value)
        self._counts.clear()


class Dispatcher:
    def __init__(
        self,
        sender: Sender,
        ledger: Ledger,
        claims: Claims,
        metrics: MetricsSink,
        *,
        max_parts: int = 3,
        alert_recipients: Sequence[str] = (),
        delays: RetryDelays | None = None,
        language: str = "en",
        templates: TemplateSource | None = None,
        identity: Mapping[str, str] | None = None,
        agenda: Agenda | None = None,
        first_check_seconds: int = 120,
        clock: Callable[[], datetime] = now_utc,
        guards: Guards | None = None,
        parking: OutboxQueue | None = None,
        countries: frozenset[int] = KENYA_ONLY,
        privacy: Privacy | None = None,
        window: SendWindow | None = None,
        footer: str | None = None,
    ) -> None:
        self._countries = countries
        self._privacy = privacy
        self._window = window
        self._footer = footer
        self._guards = guards
        self._parking = parking
        self._agenda = agenda
        self._first_check = timedelta(seconds=first_check_seconds)
        self._clock = clock
        self._language = language
        self._templates = templates
        self._identity = {k: v for k, v in (identity or {}).items() if v}
        self._sender = sender
        self._ledger = ledger
        self._claims = claims
        self._sink = metrics
        # Counted per batch and emitted once: one data point per metric, not one per message.
        self._metrics: _Tally = _Tally()
        self._max_parts = max_parts
        self._alert_recipients = tuple(alert_recipients)
        self._delays = delays or RetryDelays()

    def dispatch(
        self, batch: Sequence[Inbound], remaining_ms: Callable[[], int] | None = None
    ) -> list[RecordOutcome]:
        try:
            return self._dispatch(batch, remaining_ms)
        finally:
            self._metrics.flush(self._sink)

    def _dispatch(
        self, batch: Sequence[Inbound], remaining_ms: Callable[[], int] | None = None
    ) -> list[RecordOutcome]:
        settled: list[LedgerEntry] = []
        retries: dict[str, RecordOutcome] = {}
        deliveries: list[Delivery] = []
        receive_counts = {item.record_id: item.receive_count for item in batch}

        def retry(record_id: str, delay: int, reason: str) -> None:
            current = retries.get(record_id)
            if current is None or current.delay_seconds < delay:
                retries[record_id] = RecordOutcome(record_id, retry=True, delay_seconds=delay, reason=reason)

        catalog = self._catalog()
        messages: dict[str, OutboxMessage] = {}
        parsed = [(item, self._parse(item, settled, catalog)) for item in batch]
        summaries = self._summaries([m for _, m in parsed if m is not None and m.summary_of])
        for item, read in parsed:
            message = summaries.get(read.idempotency_key) if read is not None and read.summary_of else read
            if message is None or self._held(message, catalog):
                continue
            messages[item.record_id] = message
            plan = plan_message(
                item.record_id,
                message,
                max_parts=self._max_parts,
                alert_recipients=self._alert_recipients,
                catalog=catalog,
                countries=self._countries,
            )
            settled.extend(plan.settled)
            deliveries.extend(plan.deliveries)

        for entry in settled:
            self._metrics.count(
                "MessagesUndeliverable" if entry.status is Status.UNDELIVERABLE else "MessagesRejected"
            )
            log.warning(
                "not sending %s to %s: %s",
                entry.idempotency_key,
                entry.recipient,
                entry.reason,
                extra={"idempotency_key": entry.idempotency_key, "status": entry.status.value},
            )

        if settled:
            self._ledger.record_unsendable(settled)
        candidates = self._one_per_event(deliveries)
        prefetched, wishes = self._prefetch(candidates)
        to_send, completed = self._claim(candidates, remaining_ms, retry)
        to_send = self._screen(to_send, wishes)
        to_send, parked = self._guard(to_send, retry, prefetched)
        # Recorded before the call: a crash mid-send leaves QUEUED entries an operator can find.
        queued_at = self._clock()
        if to_send:
            self._ledger.write(
                [d.entry(Status.QUEUED, queued_at=queued_at, updated_at=queued_at) for d in to_send]
            )
        results = send_all(self._sender, to_send) if to_send else {}
        final = self._settle(to_send, results, receive_counts, retry, queued_at)
        if final:
            self._ledger.write(final)
        if self._guards is not None:
            sent = {(e.idempotency_key, e.recipient_ref) for e in final if e.status is Status.SENT}
            self._guards.record(
                [d for d in to_send if (d.idempotency_key, d.recipient.ref) in sent], self._clock()
            )
        self._check_later(final + self._complete(completed))
        self._park(parked, messages, batch, retries, retry)
        return [retries.get(item.record_id, RecordOutcome(item.record_id)) for item in batch]

    def _catalog(self) -> Catalog:
        """One snapshot of the templates for the whole batch: no message mixes two wordings."""
        catalog = replace(
            self._templates.catalog() if self._templates else Catalog(), identity=self._identity
        )
        return catalog if self._footer is None else replace(catalog, footer=self._footer)

    def _prefetch(
        self, candidates: list[Delivery]
    ) -> tuple[Future[dict[str, dict[str, Any]]] | None, Future[dict[str, PrivacyRecord]] | None]:
        """The guards' and the suppression list's reads, started now to run while the claims are
        written: no extra round trip."""
        if not candidates:
            return None, None
        guards = self._guards.prefetch(candidates, self._clock()) if self._guards else None
        wishes = self._privacy.prefetch(candidates) if self._privacy else None
        return guards, wishes

    # -- the people's wishes ----------------------------------------------------------------------------

    def _screen(
        self, deliveries: list[Delivery], prefetched: Future[dict[str, PrivacyRecord]] | None
    ) -> list[Delivery]:
        """What the suppression list and the consent record let go; the rest is settled for good:
        SUPPRESSED (costs nothing, never retried) or REJECTED (a promotion without consent)."""
        if not deliveries:
            return deliveries
        if self._privacy is None:
            # Without the privacy table nobody's wishes can be read: promotions cannot go at all.
            refused = [d for d in deliveries if d.message_category is MessageCategory.PROMOTIONAL]
            stopped = [
                (d, Status.REJECTED, "promotions need the privacy table (PRIVACY_TABLE)") for d in refused
            ]
            go = [d for d in deliveries if d.message_category is not MessageCategory.PROMOTIONAL]
        else:
            go, screened = self._privacy.screen(deliveries, prefetched)
            stopped = [
                (s.delivery, Status.SUPPRESSED if s.suppressed else Status.REJECTED, s.reason)
                for s in screened
            ]
        if not stopped:
            return go
        now = self._clock()
        self._claims.settle([(d.claim, Settlement(status, now)) for d, status, _ in stopped])
        entries = []
        for delivery, status, reason in stopped:
            self._metrics.count("MessagesSuppressed" if status is Status.SUPPRESSED else "MessagesRejected")
            log.info("not sending %s to %s: %s", delivery.idempotency_key, delivery.recipient.masked, reason)
            entries.append(
                delivery.entry(status, reason=reason, final_at=now, final_via="send", updated_at=now)
            )
        self._ledger.write(entries)
        return go

    # -- the guards ------------------------------------------------------------------------------------

    def _guard(
        self,
        deliveries: list[Delivery],
        retry: Callable[[str, int, str], None],
        prefetched: Future[dict[str, dict[str, Any]]] | None = None,
    ) -> tuple[list[Delivery], dict[str, int]]:
        """What the guards let go now; what waits is released and recorded RETRYING (its record to be
        parked, by how long), what they refuse or collapse is settled REJECTED with the reason."""
        if self._guards is None or not deliveries:
            return deliveries, {}
        from tuma.services.guards import Verdict

        now = self._clock()
        judged = self._guards.judge(deliveries, now, prefetched)
        go = [j.delivery for j in judged if j.verdict is Verdict.SEND]
        waiting = [j for j in judged if j.verdict is Verdict.WAIT]
        ended = [j for j in judged if j.verdict in (Verdict.REFUSE, Verdict.COLLAPSE)]
        if waiting:
            self._claims.release([j.delivery.claim for j in waiting])
            self._metrics.count("MessagesHeldByGuards", len(waiting))
        if ended:
            self._claims.settle([(j.delivery.claim, Settlement(Status.REJECTED, now)) for j in ended])
            for j in ended:
                self._metrics.count(
                    "AlertsCollapsed" if j.verdict is Verdict.COLLAPSE else "MessagesRateLimited"
                )
        entries = [j.delivery.entry(Status.RETRYING, reason=j.reason, updated_at=now) for j in waiting] + [
            j.delivery.entry(Status.REJECTED, reason=j.reason, final_at=now, final_via="send", updated_at=now)
            for j in ended
        ]
        if entries:
            self._ledger.write(entries)
        parked: dict[str, int] = {}
        for j in waiting:
            parked[j.delivery.record_id] = max(parked.get(j.delivery.record_id, 0), j.wait_seconds)
        return go, parked

    def _park(
        self,
        parked: Mapping[str, int],
        messages: Mapping[str, OutboxMessage],
        batch: Sequence[Inbound],
        retries: Mapping[str, RecordOutcome],
        retry: Callable[[str, int, str], None],
    ) -> None:
        """A record whose messages wait goes back on its queue as a fresh message (its receive count
        starts again), unless it is coming back anyway; if it cannot be queued, it waits in place."""
        bodies = {item.record_id: item.body for item in batch}
        for record_id, seconds in parked.items():
            if record_id in retries:
                continue
            message = messages.get(record_id)
            try:
                if self._parking is None:
                    raise ConnectionError("no queue to park on")
                self._parking.park(bodies[record_id], message.fast if message else True, seconds)
            except Exception as exc:  # any failure: the message still comes back, by its visibility
                log.warning("could not park %s: %s", record_id, type(exc).__name__)
                retry(record_id, seconds, "waiting for a guard")

    def _summaries(self, messages: Sequence[OutboxMessage]) -> dict[str, OutboxMessage]:
        """Alert-storm summaries, their count read now that their window has closed."""
        if not messages or self._guards is None:
            return {}
        from tuma.services.guards import summary_details

        windows = self._guards.windows([m.summary_of for m in messages if m.summary_of])
        found = {}
        for message in messages:
            window = windows.get(message.summary_of or "")
            if window and int(window.get("more", 0)):
                data = {**message.data, "details": summary_details(window)}
                found[message.idempotency_key] = message.model_copy(update={"data": data, "summary_of": None})
        return found

    def _parse(self, item: Inbound, settled: list[LedgerEntry], catalog: Catalog) -> OutboxMessage | None:
        try:
            parsed = json.loads(item.body)
        except ValueError:
            parsed = None
        if _is_sns_notification(parsed):
            # A CloudWatch alarm, delivered by SNS into the outbox queue. Rare: its models are
            # loaded when the first one comes, not at every cold start.
            from tuma.services.alarms import alarm_from_sns

            try:
                return alarm_from_sns(parsed, self._language, catalog)
            except ValueError as exc:
                reason = str(exc)
        else:
            try:
                return OutboxMessage.model_validate_json(item.body)
            except ValidationError as exc:
                reason = f"malformed outbox message: {summarize(exc)}"
        key = key_of(item.body)
        self._metrics.count("MalformedMessages")
        if key is None:
            # Nothing to key a ledger entry on: the structured log line and the metric are the record.
            log.error(
                "outbox message %s rejected: %s", item.record_id, reason, extra={"record_id": item.record_id}
            )
        else:
            settled.append(LedgerEntry(key, NO_RECIPIENT_REF, "-", Status.REJECTED, reason=reason[:500]))
        return None

    def _one_per_event(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Messages deduplicated by their event (receipts) go once, to the best number known for it:
        the payment's record keeps the best any source gave (intake ranks them), unless this batch
        holds a better kind of number (a plain number beats a hashed one)."""
        best: dict[str, Delivery] = {}
        others: list[Delivery] = []
        for delivery in deliveries:
            if not delivery.per_event:
                others.append(delivery)
                continue
            current = best.get(delivery.idempotency_key)
            if current is not None:
                self._metrics.count("DuplicatesSkipped")
            if current is None or RANK[delivery.recipient.kind] > RANK[current.recipient.kind]:
                best[delivery.idempotency_key] = delivery
        try:
            known = self._ledger.best_payers(list(best)) if best else {}
        except ConnectionError as exc:
            # The payment records could not all be read: each receipt still goes, to the best number
            # this batch holds for it, rather than the whole batch waiting on the ledger.
            log.warning("best payer numbers unread, sending to the batch's own: %s", exc)
            known = {}
        for key, value in known.items():
            try:
                recipient = parse_recipient(value)
            except InvalidNumber:
                continue
            if RANK[recipient.kind] >= RANK[best[key].recipient.kind] and recipient != best[key].recipient:
                best[key] = best[key].to(recipient)
        return others + list(best.values())

    def _claim(
        self,
        deliveries: list[Delivery],
        remaining_ms: Callable[[], int] | None,
        retry: Callable[[str, int, str], None],
    ) -> tuple[list[Delivery], list[tuple[Delivery, Settlement]]]:
        """What is ours to send, and what an earlier attempt settled (with what it settled)."""
        unique: dict[Claim, Delivery] = {}
        for delivery in deliveries:
            if delivery.claim in unique:  # the same event twice in one batch
                self._metrics.count("DuplicatesSkipped")
                continue
            unique[delivery.claim] = delivery
        if not unique:
            return [], []
        states = self._claims.claim(list(unique), remaining_ms() if remaining_ms else None)
        to_send: list[Delivery] = []
        completed: list[tuple[Delivery, Settlement]] = []
        for delivery, claimed in zip(unique.values(), states, strict=True):
            if claimed.state is ClaimState.NEW:
                to_send.append(replace(delivery, pinned=claimed.pinned) if claimed.pinned else delivery)
            elif claimed.state is ClaimState.DONE:
                self._metrics.count("DuplicatesSkipped")
                log.info("already sent %s to %s", delivery.idempotency_key, delivery.recipient.masked)
                if claimed.result is not None:
                    completed.append((delivery, claimed.result))
            else:
                retry(
                    delivery.record_id, self._delays.busy_wait, "another invocation is sending this message"
                )
        return to_send, completed

    def _check_later(self, entries: list[LedgerEntry]) -> None:
        if self._agenda is None:
            return
        self._agenda.add_checks(
            [
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
        )

    def _complete(self, completed: list[tuple[Delivery, Settlement]]) -> list[LedgerEntry]:
        """Ledger entries an attempt left QUEUED, after settling their claims, completed from those claims.

        Usually this finds nothing (a plain duplicate): the entry is already past QUEUED and the
        conditional write is refused."""
        now = self._clock()
        entries: list[LedgerEntry] = []
        for delivery, settled in completed:
            at = settled.at or now  # a claim settled before its time was recorded: now
            if settled.status is Status.SENT and settled.message_id:
                entries.append(
                    delivery.entry(
                        Status.SENT,
                        provider=settled.provider or PRIMARY,
                        provider_message_id=settled.message_id,
                        sent_at=at,
                        check_due_at=now + self._first_check if self._agenda is not None else None,
                        updated_at=now,
                    )
                )
            elif settled.status is Status.REJECTED:
                entries.append(
                    delivery.entry(
                        Status.REJECTED,
                        provider_code=settled.code,
                        reason="rejected by the provider",
                        final_at=at,
                        final_via="send",
                        updated_at=now,
                    )
                )
        written = self._ledger.complete_queued(entries) if entries else 0
        if not written:
            return []
        self._metrics.count("LedgerCompleted", written)
        log.warning("completed %d ledger entries left QUEUED by an interrupted sender", written)
        # Checks for a report too: at worst one is asked for twice (reports only move an entry forward).
        return [e for e in entries if e.status is Status.SENT]

    def _settle(
        self,
        deliveries: list[Delivery],
        results: Mapping[int, SendResult],
        receive_counts: Mapping[str, int],
        retry: Callable[[str, int, str], None],
        queued_at: datetime,
    ) -> list[LedgerEntry]:
        """Claims first, all at once: until they are settled a crash would send these again."""
        done: list[tuple[Claim, Settlement]] = []
        again: list[Claim] = []
        pins: dict[Claim, str] = {}
        stamp = self._clock()
        for index, delivery in enumerate(deliveries):
            result = results[index]
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
        return [
            self._entry(
                d,
                results[i],
                receive_counts.get(d.record_id, 1),
                retry,
                queued_at=queued_at,
                answered=answered,
            )
            for i, d in enumerate(deliveries)
        ]

    def _entry(
        self,
        delivery: Delivery,
        result: SendResult,
        receive_count: int,
        retry: Callable[[str, int, str], None],
        *,
        queued_at: datetime,
        answered: datetime,
    ) -> LedgerEntry:
        times = {
            "queued_at": queued_at,
            "updated_at": answered,
            "provider": result.provider or delivery.pinned or PRIMARY,
        }
        if result.disposition is Disposition.SUCCESS:
            self._metrics.count("MessagesSent")
            self._metrics.count("SmsParts", delivery.text.parts)
            if result.provider == SECONDARY:
                self._metrics.count("MessagesSentBySecondary")  # the SecondaryProviderInUse alarm
            return delivery.entry(
                Status.SENT,
                provider_message_id=result.message_id,
                provider_code=result.code,
                sent_at=answered,
                check_due_at=answered + self._first_check if self._agenda is not None else None,
                **times,
            )
        if result.disposition is Disposition.REJECT:
            self._metrics.count("MessagesRejected")
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
        self._metrics.count("SendRetried")
        alarm = meaning(result.code).alarm if result.code is not None else None
        if alarm is None and result.disposition in (Disposition.CONFIG, Disposition.CREDENTIALS):
            alarm = CONFIGURATION_ALARM  # refused before any call (no promotional sender ID, say)
        if alarm is not None:
            self._metrics.count(alarm)
            log.error("provider %s (%s): %s", alarm, result.code, result.description)
        delay = self._delays.for_result(result.disposition, receive_count)
        retry(delivery.record_id, delay, result.description)
        return delivery.entry(
            Status.RETRYING,
            provider_code=result.code,
            reason=f"will retry: {result.description}",
            attempts=receive_count,
            **times,
        )

    def _held(self, message: OutboxMessage, catalog: Catalog) -> bool:
        """A message for later is put on the agenda, its recipients SCHEDULED; True when held. A
        promotion due outside the sending window waits for its next opening."""
        now = self._clock()
        due = message.send_at
        if self._window is not None and self._agenda is not None:
            kind = catalog.kind(message.template) if message.template else None
            if category_of(message, kind) is MessageCategory.PROMOTIONAL:
                due = self._window.next_opening(max(now, due or now)) or due
        if due is None or due <= now + SEND_NOW_MARGIN or self._agenda is None:
            return False
        message = message.model_copy(update={"send_at": due})
        recipients, _ = plan_recipients(message, self._alert_recipients, catalog)
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
            for r in recipients
        ]
        body = message.model_copy(update={"send_at": None}).to_json()
        if self._agenda.schedule(ScheduledMessage(message.idempotency_key, due, body), entries):
            self._metrics.count("MessagesScheduled")
        else:
            self._metrics.count("DuplicatesSkipped")
        return True


def send_all(sender: Sender, deliveries: Sequence[Delivery]) -> Mapping[int, SendResult]:
    """Results by position in `deliveries`.

    Plain texts go out through `sendbulk` (one entry each, matched back by clientsmsid). The OTP and
    hashed routes have no bulk form, so those are sent one by one.
    """
    results: dict[int, SendResult] = {}
    try:
        bulk = [
            BulkMessage(
                client_sms_id=str(i + 1),
                mobile=d.recipient.value,
                message=d.text.text,
                pinned=d.pinned,
                promotional=d.message_category is MessageCategory.PROMOTIONAL,
            )
            for i, d in enumerate(deliveries)
            if d.route is ProviderRoute.SMS
        ]
        if bulk:
            answers = sender.send_bulk(bulk)
            for message in bulk:
                results[int(message.client_sms_id) - 1] = answers[message.client_sms_id]
        for i, delivery in enumerate(deliveries):
            if delivery.route is not ProviderRoute.SMS:
                hashed = delivery.route is ProviderRoute.HASHED
                results[i] = sender.send_otp(
                    delivery.recipient.value, delivery.text.text, hashed=hashed, pinned=delivery.pinned
                )
    except ConfigurationError as exc:
        failure = SendResult(Disposition.CONFIG, str(exc))
        for i in range(len(deliveries)):
            results.setdefault(i, failure)
    return results


def _is_sns_notification(body: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(body, dict) and body.get("Type") == "Notification" and "TopicArn" in body
