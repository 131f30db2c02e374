"""In-memory implementations of `tuma.ports` (provider, queue, DynamoDB), for domain unit tests only.

Integration and end-to-end tests use the real adapters against moto and the provider simulator.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from tuma.formatting.clock import now_utc
from tuma.models.api_keys import ApiKey, ApiKeySet
from tuma.models.api_keys import Scope as KeyScope
from tuma.models.callback_tokens import CallbackToken, Caller
from tuma.models.daraja import StatusQuery
from tuma.models.http import HttpAnswer, HttpFailure
from tuma.models.ledger import (
    CALLBACK_SOURCES,
    CONFIRMING_SOURCES,
    FINAL_RANK,
    PRIMARY,
    CancelOutcome,
    Confirmation,
    DeliveryUpdate,
    DueCheck,
    HeldReceipt,
    LedgerEntry,
    PaymentSeen,
    PaymentState,
    ReceiptMark,
    ReportOutcome,
    ScheduledMessage,
    Status,
    confirmation_of,
)
from tuma.models.outbox import OutboxMessage
from tuma.models.privacy import Scope
from tuma.models.privacy_records import Consent, PrivacyRecord, Suppression
from tuma.models.provider_answers import Balance
from tuma.models.provider_codes import Disposition
from tuma.models.sending import BulkMessage, Claim, Claimed, ClaimState, SendResult, Settlement
from tuma.models.sources import PaymentSource
from tuma.models.status_events import StatusEvent
from tuma.models.templates import Catalog, Routing, StoredTemplate
from tuma.models.webhook_secret import WebhookSecret
from tuma.ports import (
    Agenda,
    ApiKeys,
    BalanceReader,
    Claims,
    CustomerDirectory,
    GuardStore,
    Http,
    Ledger,
    LowState,
    MetricsSink,
    OutboxQueue,
    PrivacyStore,
    ReplayGuard,
    RetentionStore,
    Sender,
    StateStore,
    StatusEventQueue,
    TemplateStore,
    WebhookSecrets,
)

OK = SendResult(Disposition.SUCCESS, "Success", 200, "m-1")


def reply(payload: Any, status: int = 200) -> HttpAnswer:
    return HttpAnswer(status, json.dumps(payload).encode())


class ScriptedHttp(Http):
    """The network as a script: `answer(url, body)` gives the HTTP answer, or the failure to raise."""

    def __init__(self, answer: Callable[[str, bytes], HttpAnswer | HttpFailure]) -> None:
        self.answer = answer
        self.requests: list[tuple[str, bytes, dict[str, str]]] = []

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
        self.requests.append((url, body, dict(headers)))
        answer = self.answer(url, body)
        if isinstance(answer, HttpFailure):
            raise answer
        return answer

    def get(self, url: str, headers: Mapping[str, str]) -> HttpAnswer:
        return self.post(url, b"", headers)


class FakeSender(Sender):
    def __init__(
        self, decide: Callable[[str, str], SendResult] | None = None, name: str | None = None
    ) -> None:
        self.decide = decide or (lambda mobile, text: OK)
        self.name = name
        self.bulk_calls: list[list[BulkMessage]] = []
        self.otp_calls: list[tuple[str, str, bool]] = []
        self._ids = 0

    def _result(self, mobile: str, text: str) -> SendResult:
        result = self.decide(mobile, text)
        if result.accepted:
            self._ids += 1
            result = SendResult(result.disposition, result.description, 200, f"m-{self._ids}")
        return replace(result, provider=self.name)

    def send_bulk(self, messages: Sequence[BulkMessage]) -> dict[str, SendResult]:
        self.bulk_calls.append(list(messages))
        return {m.client_sms_id: self._result(m.mobile, m.message) for m in messages}

    def send_otp(
        self, mobile: str, message: str, *, hashed: bool = False, pinned: str | None = None
    ) -> SendResult:
        self.otp_calls.append((mobile, message, hashed))
        return self._result(mobile, message)

    @property
    def sent(self) -> list[tuple[str, str]]:
        return [(m.mobile, m.message) for call in self.bulk_calls for m in call] + [
            (mobile, text) for mobile, text, _ in self.otp_calls
        ]


class MemoryLedger(Ledger):
    """`tuma.ports.Ledger`: entries by (key, recipient ref), reports only moving forward. Given the
    agenda, a final report ends the entry's check there, as the table's shared partition does."""

    def __init__(self, agenda: MemoryAgenda | None = None) -> None:
        self.entries: dict[tuple[str, str], LedgerEntry] = {}
        self.delivery_ranks: dict[tuple[str, str], int] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.status_answers: dict[str, dict[str, str]] = {}
        self.status_queries: dict[str, tuple[StatusQuery, datetime | None]] = {}
        self.accepted: dict[str, str] = {}
        self.agenda = agenda
        if agenda is not None:
            agenda.ledger = self

    def note_accepted(self, idempotency_key: str) -> None:
        self.accepted.setdefault(idempotency_key, now_utc().isoformat())

    def accepted_at(self, idempotency_key: str) -> str | None:
        return self.accepted.get(idempotency_key)

    def note_payment(self, seen: PaymentSeen) -> None:
        record = self.payments.setdefault(seen.reference, {"sources": set(), "payer_rank": 0})
        record.setdefault("kind", "refused-payment" if seen.receipt is ReceiptMark.REFUSED else "payment")
        record["sources"].add(seen.source)
        for name in ("amount", "short_code", "paid_at"):
            if getattr(seen, name) and name not in record:
                record[name] = getattr(seen, name)
        if seen.payer is not None and seen.payer_rank > record["payer_rank"]:
            record.update(payer=seen.payer, payer_rank=seen.payer_rank)
        if seen.receipt is not None:
            record["receipt"] = seen.receipt
        if seen.source is PaymentSource.PULL and seen.paid_at is not None:
            record["pulled_at"] = seen.paid_at
        if seen.source in CALLBACK_SOURCES and seen.paid_at is not None:
            record["called_back_at"] = seen.paid_at

    def note_payments(self, seen: Sequence[PaymentSeen]) -> None:
        for one in seen:
            self.note_payment(one)

    def best_payers(self, references: Sequence[str]) -> dict[str, str]:
        return {r: self.payments[r]["payer"] for r in references if "payer" in self.payments.get(r, {})}

    def payment_sources(self, references: Sequence[str]) -> dict[str, frozenset[str]]:
        return {r: frozenset(self.payments[r]["sources"]) for r in references if r in self.payments}

    def payment_states(self, references: Sequence[str]) -> dict[str, PaymentState]:
        return {
            r: PaymentState(frozenset(self.payments[r]["sources"]), self.payments[r].get("receipt"))
            for r in references
            if r in self.payments
        }

    def note_status_answer(self, reference: str, answer: Mapping[str, str]) -> None:
        self.status_answers[reference] = dict(answer)

    def hold_receipt(self, held: HeldReceipt, entries: Sequence[LedgerEntry]) -> None:
        self.payments.setdefault(held.reference, {"sources": set(), "payer_rank": 0})["held"] = held
        self.write(entries)

    def held_receipts(self, references: Sequence[str]) -> dict[str, HeldReceipt]:
        found = {r: self.payments.get(r, {}).get("held") for r in references}
        return {r: held for r, held in found.items() if held is not None}

    def release_held(self, reference: str) -> bool:
        return self.payments.get(reference, {}).pop("held", None) is not None

    def unconfirmed_payments(self, since: datetime, before: datetime) -> list[str]:
        found = []
        for reference, record in self.payments.items():
            sources = set(record["sources"])
            if "unconfirmed_at" in record or sources & CONFIRMING_SOURCES or not sources & CALLBACK_SOURCES:
                continue
            if record.get("receipt") is ReceiptMark.REJECTED:
                continue
            paid = record.get("paid_at")
            if paid is not None and since <= paid < before:
                found.append(reference)
        return found

    def mark_unconfirmed(self, reference: str, at: datetime) -> bool:
        record = self.payments.get(reference)
        if record is None or "unconfirmed_at" in record or set(record["sources"]) & CONFIRMING_SOURCES:
            return False
        record["unconfirmed_at"] = at
        return True

    def payment_confirmation(self, reference: str) -> Confirmation | None:
        record = self.payments.get(reference)
        return confirmation_of(record) if record is not None else None

    def record_status_query(self, query: StatusQuery) -> None:
        self.status_queries[query.receipt] = (query, None)

    def answer_status_query(
        self, reference: str, originator_conversation_id: str, conversation_id: str, now: datetime
    ) -> bool:
        query, answered = self.status_queries.get(reference, (None, None))
        if query is None or answered is not None or query.expires_at <= now:
            return False
        ids = (query.originator_conversation_id, query.conversation_id)
        if ids != (originator_conversation_id, conversation_id):
            return False
        self.status_queries[reference] = (query, now)
        return True

    def write(self, entries: Sequence[LedgerEntry]) -> None:
        for entry in entries:
            self.entries[(entry.idempotency_key, entry.recipient_ref)] = entry

    def record_unsendable(self, entries: Sequence[LedgerEntry]) -> None:
        for entry in entries:
            current = self.entries.get((entry.idempotency_key, entry.recipient_ref))
            if current is None or current.status in (Status.REJECTED, Status.UNDELIVERABLE):
                self.entries[(entry.idempotency_key, entry.recipient_ref)] = entry

    def complete_queued(self, entries: Sequence[LedgerEntry]) -> int:
        done = 0
        for entry in entries:
            current = self.entries.get((entry.idempotency_key, entry.recipient_ref))
            if current is not None and current.status is Status.QUEUED:
                self.entries[(entry.idempotency_key, entry.recipient_ref)] = entry
                done += 1
        return done

    def get(self, idempotency_key: str) -> list[LedgerEntry]:
        return [e for (k, _), e in sorted(self.entries.items()) if k == idempotency_key]

    def apply_delivery(self, update: DeliveryUpdate) -> ReportOutcome:
        carrying = [
            key
            for key, e in self.entries.items()
            if e.provider_message_id == update.provider_message_id and update.entry in (None, key)
        ]
        if not carrying:
            return ReportOutcome.UNKNOWN
        outcome = ReportOutcome.STALE
        for key in carrying:
            entry = self.entries[key]
            if (entry.provider or PRIMARY) != update.provider or self.delivery_ranks.get(
                key, -1
            ) >= update.rank:
                continue
            now = now_utc()
            entry = replace(
                entry, status=update.status, delivery_status=update.delivery_status, updated_at=now
            )
            if update.final:
                entry = replace(entry, final_at=now, final_via=update.via)
            self.entries[key] = entry
            self.delivery_ranks[key] = update.rank
            outcome = ReportOutcome.APPLIED
            if update.final and self.agenda is not None:
                self.agenda.drop_entry_checks(*key)
        return outcome

    def recipients_of(
        self, provider_message_id: str, provider: str, entry: tuple[str, str] | None = None
    ) -> list[tuple[str, str]]:
        return [
            (e.recipient_ref, e.recipient)
            for key, e in self.entries.items()
            if e.provider_message_id == provider_message_id
            and (e.provider or PRIMARY) == provider
            and entry in (None, key)
        ]

    def expire(self, check: DueCheck, reason: str) -> bool:
        key = (check.idempotency_key, check.recipient_ref)
        entry = self.entries.get(key)
        try:
            if (
                entry is None
                or entry.status is not Status.SENT
                or self.delivery_ranks.get(key, -1) >= FINAL_RANK
            ):
                return False
            now = now_utc()
            self.entries[key] = replace(
                entry,
                status=Status.EXPIRED,
                reason=reason[:500],
                final_at=now,
                final_via="expiry",
                updated_at=now,
            )
            self.delivery_ranks[key] = 2  # a late final report may still replace it
            return True
        finally:
            if self.agenda is not None:
                self.agenda.drop_check(check)

    def by_recipient(self, recipient_ref: str, limit: int = 50) -> list[LedgerEntry]:
        mine = [e for e in self.entries.values() if e.recipient_ref == recipient_ref]
        return sorted(mine, key=lambda e: e.updated_at, reverse=True)[:limit]

    def statuses(self) -> Counter[str]:
        return Counter(e.status.value for e in self.entries.values())


class MemoryClaims(Claims):
    def __init__(self) -> None:
        self.records: dict[Claim, Settlement | None] = {}
        self.pins: dict[Claim, str] = {}

    def _claim(self, key: Claim) -> Claimed:
        if key not in self.records:
            self.records[key] = None
            return Claimed(ClaimState.NEW, pinned=self.pins.pop(key, None))
        result = self.records[key]
        return Claimed(ClaimState.DONE, result) if result is not None else Claimed(ClaimState.BUSY)

    def claim(self, claims: Sequence[Claim], remaining_ms: int | None) -> list[Claimed]:
        return [self._claim(key) for key in claims]

    def look(self, claims: Sequence[Claim]) -> list[Claimed]:
        found = [(key in self.records, self.records.get(key)) for key in claims]
        return [
            Claimed(ClaimState.NEW, pinned=self.pins.get(key))
            if not taken
            else Claimed(ClaimState.DONE, result)
            if result is not None
            else Claimed(ClaimState.BUSY)
            for key, (taken, result) in zip(claims, found, strict=True)
        ]

    def settle(self, results: Sequence[tuple[Claim, Settlement]]) -> None:
        for key, result in results:
            self.records[key] = result

    def release(self, claims: Sequence[Claim], pins: Mapping[Claim, str] | None = None) -> None:
        for key in claims:
            self.records.pop(key, None)
            if pins and key in pins:
                self.pins[key] = pins[key]


class ListMetrics(MetricsSink):
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.measures: dict[str, list[float]] = {}

    def count(self, name: str, value: float = 1) -> None:
        self.counts[name] += int(value)

    def measure(self, name: str, seconds: float) -> None:
        self.measures.setdefault(name, []).append(seconds)


class MemoryStatusQueue(StatusEventQueue):
    """The status-events queue; `fail_at` positions are refused."""

    def __init__(self, fail_at: Sequence[int] = ()) -> None:
        self.events: list[StatusEvent] = []
        self.fail_at = set(fail_at)

    def put_many(self, events: Sequence[StatusEvent]) -> set[int]:
        self.events += [e for i, e in enumerate(events) if i not in self.fail_at]
        return {i for i in self.fail_at if i < len(events)}


class StaticWebhookSecrets(WebhookSecrets):
    """`tuma.ports.WebhookSecrets`: the webhook secret, and each caller's token (by default the
    caller's name over 32 characters, with the legacy path token still accepted)."""

    def __init__(
        self,
        token: str = "t" * 32,
        key: str = "k" * 32,
        callers: Mapping[Caller, CallbackToken] | None = None,
    ) -> None:
        self.secret = WebhookSecret(path_token=SecretStr(token))
        self.callers = dict(callers or {})

    def current(self) -> WebhookSecret:
        return self.secret

    def callback_token(self, caller: Caller, fresh: bool = False) -> CallbackToken:
        found = self.callers.get(caller)
        return found or CallbackToken(token=SecretStr(caller.value.ljust(32, "-")), legacy=True)


ALL_SCOPES = frozenset(KeyScope)


class MemoryApiKeys(ApiKeys):
    """`tuma.ports.ApiKeys` over a key set held in memory; `reads` counts the fresh reads."""

    def __init__(self, *keys: ApiKey) -> None:
        self.keys = ApiKeySet(keys=keys)
        self.fresh_reads = 0

    @classmethod
    def one(
        cls, key_id: str = "tk_test0001", secret: str = "s" * 32, scopes: frozenset[KeyScope] = ALL_SCOPES
    ) -> MemoryApiKeys:
        return cls(
            ApiKey(
                id=key_id, secret=SecretStr(secret), scopes=scopes, created_at=datetime.fromtimestamp(0, UTC)
            )
        )

    def key(self, key_id: str, fresh: bool = False) -> ApiKey | None:
        self.fresh_reads += fresh
        return self.keys.find(key_id)


class MemoryReplayGuard(ReplayGuard):
    def __init__(self) -> None:
        self.used: dict[str, int] = {}

    def first_use(self, name: str, keep_until: int) -> bool:
        if name in self.used:
            return False
        self.used[name] = keep_until
        return True


class MemoryOutbox(OutboxQueue):
    """The outbox queue; `fail_at` positions are refused by put_many, `down` refuses everything."""

    def __init__(self) -> None:
        self.messages: list[OutboxMessage] = []
        self.parked: list[tuple[str, bool, int]] = []
        self.backlog: list[OutboxMessage] = []  # what was queued as a backlog (the outbox lane)
        self.fail_at: set[int] = set()
        self.down = False

    def put(self, message: OutboxMessage) -> None:
        if self.down:
            raise ConnectionError("queue unavailable")
        self.messages.append(message)

    def park(self, body: str, fast: bool, delay_seconds: int) -> None:
        if self.down:
            raise ConnectionError("queue unavailable")
        self.parked.append((body, fast, delay_seconds))

    def put_many(self, messages: Sequence[OutboxMessage], *, backlog: bool = False) -> set[int]:
        if self.down:
            return set(range(len(messages)))
        queued = [m for i, m in enumerate(messages) if i not in self.fail_at]
        self.messages.extend(queued)
        if backlog:
            self.backlog.extend(queued)
        return {i for i in self.fail_at if i < len(messages)}


class MemoryDirectory(CustomerDirectory):
    def __init__(self, phones: dict[str, str]) -> None:
        self.phones = phones

    def phone_for(self, account: str) -> str | None:
        return self.phones.get(account.strip())

    def knows(self, account: str) -> bool:
        return account.strip() in self.phones


class MemoryLowState(LowState):
    def __init__(self) -> None:
        self.low: dict[str, bool] = {}

    def flip(self, name: str, low: bool, at: str) -> bool:
        if self.low.get(name) is low:
            return False
        self.low[name] = low
        return True


class FixedBalance(BalanceReader):
    def __init__(self, credit: str) -> None:
        self.credit = credit

    def get_balance(self) -> Balance:
        return Balance.model_validate({"response-code": 200, "credit": self.credit})


class MemoryTemplates(TemplateStore):
    """The template store: versions per (name, language), one current each, and the routing."""

    def __init__(self) -> None:
        self.versions: dict[tuple[str, str], list[StoredTemplate]] = {}
        self.current: dict[tuple[str, str], StoredTemplate] = {}
        self.routings: list[Routing] = []
        self.routing = Routing()

    def catalog(self) -> Catalog:
        return Catalog(dict(self.current), self.routing)

    def history(self, name: str, language: str) -> list[StoredTemplate]:
        return list(reversed(self.versions.get((name, language), [])))

    def save(self, template: StoredTemplate) -> StoredTemplate:
        versions = self.versions.setdefault((template.name, template.language), [])
        saved = replace(template, version=len(versions) + 1)
        versions.append(saved)
        self.current[(template.name, template.language)] = saved
        return saved

    def use(self, name: str, language: str, version: int) -> StoredTemplate:
        chosen = self.versions[(name, language)][version - 1]
        self.current[(name, language)] = chosen
        return chosen

    def routing_history(self) -> list[Routing]:
        return list(reversed(self.routings))

    def save_routing(self, routing: Routing) -> Routing:
        self.routing = Routing(routing.rules, len(self.routings) + 1)
        self.routings.append(self.routing)
        return self.routing

    def use_routing(self, version: int) -> Routing:
        self.routing = self.routings[version - 1]
        return self.routing


class MemoryStateStore(StateStore):
    """`tuma.ports.StateStore`; `broken` makes every call fail, as an unreachable table would."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.broken = False
        self.calls = 0

    def _check(self) -> None:
        self.calls += 1
        if self.broken:
            raise ConnectionError("state table unavailable")

    def read(self, name: str) -> dict[str, Any] | None:
        self._check()
        found = self.documents.get(name)
        return dict(found) if found is not None else None

    def write(self, name: str, value: dict[str, Any]) -> None:
        self._check()
        self.documents[name] = dict(value)

    def swap(self, name: str, expected: dict[str, Any] | None, value: dict[str, Any]) -> bool:
        self._check()
        if self.documents.get(name) != expected:
            return False
        self.documents[name] = dict(value)
        return True


class MemoryGuardStore(MemoryStateStore, GuardStore):
    """`tuma.ports.GuardStore`: documents and counters (`{"count": n}`), read in one go."""

    def __init__(self) -> None:
        super().__init__()
        self.batch_reads = 0

    def read_many(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        self._check()
        self.batch_reads += 1
        return {name: dict(self.documents[name]) for name in names if name in self.documents}

    def add(self, counters: Mapping[str, int], expires_at: int) -> None:
        self._check()
        for name, value in counters.items():
            current = self.documents.setdefault(name, {"count": 0})
            current["count"] = int(current.get("count", 0)) + value

    def put_counts(self, counts: Mapping[str, int], expires_at: int) -> None:
        self._check()
        for name, value in counts.items():
            self.documents[name] = {"count": value}


class MemoryAgenda(Agenda):
    """`tuma.ports.Agenda`: report checks by when they are due, and held messages released once."""

    def __init__(self) -> None:
        self.checks: dict[tuple[datetime, str, str], DueCheck] = {}
        self.held: dict[str, ScheduledMessage] = {}
        self.released: set[str] = set()
        self.cancelled: set[str] = set()
        self.entries: list[LedgerEntry] = []
        # The ledger sharing the agenda's table, as in DynamoDB: scheduled entries are written there.
        self.ledger: MemoryLedger | None = None

    def add_checks(self, checks: Sequence[DueCheck]) -> None:
        for check in checks:
            self.checks[(check.due_at, check.idempotency_key, check.recipient_ref)] = check

    def due_checks(self, now: datetime, limit: int) -> list[DueCheck]:
        return [check for when, check in sorted(self.checks.items()) if when[0] <= now][:limit]

    def reschedule_check(self, check: DueCheck, due_at: datetime) -> None:
        self.drop_check(check)
        self.add_checks([replace(check, due_at=due_at, attempts=check.attempts + 1)])

    def drop_check(self, check: DueCheck) -> None:
        self.checks.pop((check.due_at, check.idempotency_key, check.recipient_ref), None)

    def drop_entry_checks(self, idempotency_key: str, recipient_ref: str) -> None:
        for when in [w for w in self.checks if w[1:] == (idempotency_key, recipient_ref)]:
            del self.checks[when]

    def schedule(self, message: ScheduledMessage, entries: Sequence[LedgerEntry]) -> bool:
        key = message.idempotency_key
        if key in self.held or key in self.cancelled:
            return False
        self.released.discard(key)  # held again: the window closed before the sender got to it
        self.held[key] = message
        self.entries.extend(entries)
        if self.ledger is not None:
            for entry in entries:
                self.ledger.entries.setdefault((entry.idempotency_key, entry.recipient_ref), entry)
        return True

    def due_messages(self, now: datetime, limit: int) -> list[ScheduledMessage]:
        return sorted((m for m in self.held.values() if m.due_at <= now), key=lambda m: m.due_at)[:limit]

    def release(self, message: ScheduledMessage) -> bool:
        if message.idempotency_key not in self.held:
            return False
        del self.held[message.idempotency_key]
        self.released.add(message.idempotency_key)
        return True

    def cancel(self, idempotency_key: str) -> CancelOutcome:
        if self.held.pop(idempotency_key, None) is not None:
            self.cancelled.add(idempotency_key)
            if self.ledger is not None:
                for entry in self.ledger.get(idempotency_key):
                    if entry.status is Status.SCHEDULED:
                        self.ledger.write([replace(entry, status=Status.CANCELLED, final_via="cancel")])
            return CancelOutcome.CANCELLED
        if idempotency_key in self.cancelled:
            return CancelOutcome.CANCELLED
        if idempotency_key in self.released:
            return CancelOutcome.ALREADY_GONE
        return CancelOutcome.NOT_SCHEDULED


class MemoryPrivacyStore(PrivacyStore):
    """`tuma.ports.PrivacyStore`: the suppression list and consents, by keyed hash."""

    def __init__(self) -> None:
        self.records: dict[str, PrivacyRecord] = {}
        self.batch_reads = 0

    def read(self, keys: Sequence[str]) -> dict[str, PrivacyRecord]:
        self.batch_reads += 1
        return {key: self.records[key] for key in keys if key in self.records}

    def _record(self, key: str, masked: str) -> PrivacyRecord:
        return self.records.get(key) or PrivacyRecord(key, masked)

    def suppress(self, key: str, masked: str, suppression: Suppression) -> bool:
        record = self._record(key, masked)
        if suppression.scope in record.suppressions:
            return False
        self.records[key] = replace(
            record, masked=masked, suppressions={**record.suppressions, suppression.scope: suppression}
        )
        return True

    def unsuppress(self, key: str, scopes: Sequence[Scope]) -> list[Scope]:
        record = self.records.get(key)
        if record is None:
            return []
        removed = [scope for scope in scopes if scope in record.suppressions]
        self._keep(
            replace(record, suppressions={s: v for s, v in record.suppressions.items() if s not in scopes})
        )
        return removed

    def consent(self, key: str, masked: str, consent: Consent) -> None:
        self.records[key] = replace(self._record(key, masked), masked=masked, consent=consent)

    def withdraw(self, key: str) -> bool:
        record = self.records.get(key)
        if record is None or record.consent is None:
            return False
        self._keep(replace(record, consent=None))
        return True

    def everything(self, limit: int = 1000) -> list[PrivacyRecord]:
        return list(self.records.values())[:limit]

    def _keep(self, record: PrivacyRecord) -> None:
        if record.empty:
            self.records.pop(record.key, None)
        else:
            self.records[record.key] = record


class MemoryRetention(RetentionStore):
    """Records by day (East Africa date), each a dict of fields; pages by position in the day."""

    def __init__(self, days: Mapping[str, list[dict[str, Any]]]) -> None:
        self.days = {day: [dict(r) for r in records] for day, records in days.items()}
        self.saved: tuple[str, dict[str, Any] | None] | None = None
        self.queries: list[str] = []

    def checkpoint(self) -> tuple[str, dict[str, Any] | None] | None:
        return self.saved

    def save_checkpoint(self, day: str, start: dict[str, Any] | None) -> None:
        self.saved = (day, start)

    def redact(self, day: str, start: dict[str, Any] | None, limit: int) -> tuple[int, dict[str, Any] | None]:
        self.queries.append(day)
        records = self.days.get(day, [])
        first = int(start["at"]) if start else 0
        page = records[first : first + limit]
        count = 0
        for record in page:
            if {"text", "payer", "account"} & set(record):
                for name in ("text", "payer", "account"):
                    record.pop(name, None)
                count += 1
        after = first + limit
        return count, ({"at": after} if after < len(records) else None)
