"""Every interface the domain needs from the world, in one place.

Services in `tuma.services` depend on these Protocols only; `tuma.adapters`, `tuma.provider` and
`tuma.daraja` implement them against AWS, the SMS API and Daraja (each adapter subclasses the port it
implements), and `tests/unit/fakes.py` implements them in memory. The types they carry live in
`tuma.models`, the one package this module imports: a plain list of interfaces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tuma.models.api_keys import ApiKey
    from tuma.models.callback_tokens import CallbackToken, Caller
    from tuma.models.daraja import Registration, StatusQuery
    from tuma.models.http import HttpAnswer
    from tuma.models.ledger import (
        CancelOutcome,
        Confirmation,
        DeliveryUpdate,
        DueCheck,
        HeldReceipt,
        LedgerEntry,
        PaymentSeen,
        PaymentState,
        ReportOutcome,
        ScheduledMessage,
    )
    from tuma.models.outbox import OutboxMessage
    from tuma.models.personal import Subject
    from tuma.models.privacy import Scope
    from tuma.models.privacy_records import Consent, PrivacyRecord, Suppression
    from tuma.models.provider_answers import Balance
    from tuma.models.provider_credentials import Credentials
    from tuma.models.sending import BulkMessage, Claim, Claimed, SendResult, Settlement
    from tuma.models.status_events import StatusEvent
    from tuma.models.templates import Catalog, Routing, StoredTemplate
    from tuma.models.webhook_secret import WebhookSecret


# -- sending ------------------------------------------------------------------------------------


class Sender(Protocol):
    """The part of the provider client that sending needs."""

    def send_bulk(self, messages: Sequence[BulkMessage]) -> dict[str, SendResult]: ...

    def send_otp(
        self, mobile: str, message: str, *, hashed: bool = False, pinned: str | None = None
    ) -> SendResult: ...


class BalanceReader(Protocol):
    def get_balance(self) -> Balance: ...


class CredentialSource(Protocol):
    def get(self) -> Credentials: ...

    def refresh(self) -> Credentials:
        """Bypass any cache: called once when the provider says the credentials are invalid."""
        ...


# -- HTTP ---------------------------------------------------------------------------------------


class Http(Protocol):
    """One request; raises HttpFailure when no answer came back. Never follows redirects."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpAnswer: ...

    def get(self, url: str, headers: Mapping[str, str]) -> HttpAnswer: ...


# -- Daraja ------------------------------------------------------------------------------------


class DarajaPull(Protocol):
    def pull(self, short_code: str, start: datetime, end: datetime, offset: int) -> list[dict[str, Any]]:
        """One page of the short code's C2B transactions between `start` and `end` (East Africa
        Time), from row `offset`; [] when there are none. Raises DarajaFailure."""
        ...


class DarajaSetup(Protocol):
    def register_urls(
        self, short_code: str, version: str, response_type: str, confirmation_url: str, validation_url: str
    ) -> Registration: ...

    def register_pull(self, short_code: str, nominated_number: str, callback_url: str) -> Registration: ...

    def ask_status(self, receipt: str, short_code: str, result_url: str) -> Registration:
        """Transaction Status for one receipt number; the answer comes later, to `result_url`."""
        ...


# -- queues and records -------------------------------------------------------------------------


class OutboxQueue(Protocol):
    def put(self, message: OutboxMessage) -> None:
        """Durably queued when this returns; raises otherwise."""
        ...

    def park(self, body: str, fast: bool, delay_seconds: int) -> None:
        """Queue a message body again to come back after `delay_seconds` (at most 15 minutes): a
        message a guard holds waits as a fresh message, so waiting never counts towards the
        dead-letter queue's receive limit. Raises when it could not be queued."""
        ...

    def put_many(self, messages: Sequence[OutboxMessage], *, backlog: bool = False) -> set[int]:
        """Queue several; answers the positions that could not be queued. A `backlog` (receipts the
        pull recovered, late already) takes the outbox lane whatever its kind, so that it never
        queues ahead of the receipts someone is waiting for."""
        ...


class StatusEventQueue(Protocol):
    def put_many(self, events: Sequence[StatusEvent]) -> set[int]:
        """Queue each event in its message's ordered group, deduplicated by its id; answers the
        positions that could not be queued."""
        ...


class Ledger(Protocol):
    def write(self, entries: Sequence[LedgerEntry]) -> None:
        """Record entries as they are now (creating or replacing them)."""
        ...

    def note_accepted(self, idempotency_key: str) -> None:
        """The API took this message (its `#accepted` record), so that a caller asking about it
        before the sender has written its recipients' entries is told ACCEPTED, not "no message"."""
        ...

    def accepted_at(self, idempotency_key: str) -> str | None:
        """When the API took this message (None: it did not, or long ago)."""
        ...

    def record_unsendable(self, entries: Sequence[LedgerEntry]) -> None:
        """Record REJECTED / UNDELIVERABLE entries, never over an entry that got further (a duplicate of a
        message that was sent must not turn its SENT entry into REJECTED)."""
        ...

    def complete_queued(self, entries: Sequence[LedgerEntry]) -> int:
        """Write entries only over QUEUED ones (left by a sender that crashed after sending); the
        number written."""
        ...

    def get(self, idempotency_key: str) -> list[LedgerEntry]: ...

    def apply_delivery(self, update: DeliveryUpdate) -> ReportOutcome:
        """A report moves an entry forward only; a final one ends its delivery-report checks."""
        ...

    def recipients_of(
        self, provider_message_id: str, provider: str, entry: tuple[str, str] | None = None
    ) -> list[tuple[str, str]]:
        """The (recipient ref, masked number) of the entries that provider message carried; `entry`:
        its (key, ref) when the caller knows it."""
        ...

    def expire(self, check: DueCheck, reason: str) -> bool:
        """No report came: EXPIRED, unless a report made it final meanwhile."""
        ...

    def by_recipient(self, recipient_ref: str, limit: int = 50) -> list[LedgerEntry]: ...

    def note_payment(self, seen: PaymentSeen) -> None:
        """Add a source to the payment's record; keep its payer's number if it is the best so far."""
        ...

    def note_payments(self, seen: Sequence[PaymentSeen]) -> None:
        """`note_payment` for each (at once, where the store allows)."""
        ...

    def best_payers(self, references: Sequence[str]) -> dict[str, str]:
        """The best number known for each payment's payer (a 254… number or a hashed one)."""
        ...

    def payment_sources(self, references: Sequence[str]) -> dict[str, frozenset[str]]:
        """The sources that reported each payment Tuma knows (one batched read); absent: unknown."""
        ...

    def payment_states(self, references: Sequence[str]) -> dict[str, PaymentState]:
        """Who reported each payment Tuma knows and what became of its receipt (one batched read);
        absent: unknown."""
        ...

    def note_status_answer(self, reference: str, answer: Mapping[str, str]) -> None:
        """Keep M-Pesa's latest Transaction Status answer about a receipt number beside its entries."""
        ...

    def hold_receipt(self, held: HeldReceipt, entries: Sequence[LedgerEntry]) -> None:
        """Keep a receipt on its payment's record until M-Pesa confirms it; its recipients' entries
        say AWAITING_CONFIRMATION meanwhile."""
        ...

    def held_receipts(self, references: Sequence[str]) -> dict[str, HeldReceipt]:
        """The receipts held among these payments (one batched read)."""
        ...

    def release_held(self, reference: str) -> bool:
        """Take the held receipt off its payment's record, once: False when another run did."""
        ...

    def unconfirmed_payments(self, since: datetime, before: datetime) -> list[str]:
        """Payments only Daraja's callbacks reported, paid between `since` and `before`, that M-Pesa's
        own record has not confirmed and that are not marked UNCONFIRMED yet."""
        ...

    def mark_unconfirmed(self, reference: str, at: datetime) -> bool:
        """UNCONFIRMED, once, unless the payment was confirmed meanwhile; True when this call did it."""
        ...

    def payment_confirmation(self, reference: str) -> Confirmation | None:
        """Whether M-Pesa's own record confirmed the payment (None: not known either way)."""
        ...

    def record_status_query(self, query: StatusQuery) -> None:
        """A Transaction Status request Tuma made (the latest about a receipt replaces the one before)."""
        ...

    def answer_status_query(
        self, reference: str, originator_conversation_id: str, conversation_id: str, now: datetime
    ) -> bool:
        """Take an answer once, for the query Tuma made about `reference` with these ids, before it
        expires; False for anything else (never asked, other ids, answered, too late)."""
        ...


class Agenda(Protocol):
    """What is due later: delivery reports to ask for, scheduled messages to release."""

    def add_checks(self, checks: Sequence[DueCheck]) -> None: ...

    def due_checks(self, now: datetime, limit: int) -> list[DueCheck]: ...

    def reschedule_check(self, check: DueCheck, due_at: datetime) -> None: ...

    def drop_check(self, check: DueCheck) -> None: ...

    def schedule(self, message: ScheduledMessage, entries: Sequence[LedgerEntry]) -> bool:
        """Hold a message (and record its recipients SCHEDULED); False when the key is already held
        or was cancelled: a redelivered schedule is a no-op. A released message may be held again
        (a promotion whose window closed before the sender got to it waits for the next opening)."""
        ...

    def due_messages(self, now: datetime, limit: int) -> list[ScheduledMessage]: ...

    def release(self, message: ScheduledMessage) -> bool:
        """Take a due message off the agenda, once: False when another run (or a cancel) did."""
        ...

    def cancel(self, idempotency_key: str) -> CancelOutcome: ...


class Claims(Protocol):
    """Exactly-once sending: a claim is taken before the provider is called and settled right after.

    Batched, because the moments between the provider's answer and the settled claims are the only
    ones in which a crash makes a message go twice: they must be as short as the writes allow.
    """

    def claim(self, claims: Sequence[Claim], remaining_ms: int | None) -> list[Claimed]: ...

    def look(self, claims: Sequence[Claim]) -> list[Claimed]:
        """Where claims stand, without taking them: NEW for a free one (absent, released or expired)."""
        ...

    def settle(self, results: Sequence[tuple[Claim, Settlement]]) -> None: ...

    def release(self, claims: Sequence[Claim], pins: Mapping[Claim, str] | None = None) -> None:
        """Free claims for another attempt; a pinned one keeps the provider it must go to."""
        ...


class CustomerDirectory(Protocol):
    """Account number → phone, for payers whose number M-Pesa masked."""

    def phone_for(self, account: str) -> str | None: ...

    def knows(self, account: str) -> bool: ...


class StateStore(Protocol):
    """Small named documents that outlive an invocation (what a brand's limits turned out to be)."""

    def read(self, name: str) -> dict[str, Any] | None: ...

    def write(self, name: str, value: dict[str, Any]) -> None: ...

    def swap(self, name: str, expected: dict[str, Any] | None, value: dict[str, Any]) -> bool:
        """Write `value` only if the document is still `expected` (None: absent); False if it changed."""
        ...


class GuardStore(Protocol):
    """What the guards remember (the state table): documents read in one batch, counters added."""

    def read_many(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The documents that exist among `names`, in one batched read."""
        ...

    def add(self, counters: Mapping[str, int], expires_at: int) -> None:
        """Add to each named counter (created at 0), kept until `expires_at` (unix seconds)."""
        ...

    def put_counts(self, counts: Mapping[str, int], expires_at: int) -> None:
        """Set each named counter, many items a call (not atomic: for approximate limits)."""
        ...

    def swap(self, name: str, expected: dict[str, Any] | None, value: dict[str, Any]) -> bool:
        """Write `value` only if the document is still `expected` (None: absent)."""
        ...

    def write(self, name: str, value: dict[str, Any]) -> None: ...


class PrivacyStore(Protocol):
    """The suppression list and consent record (the privacy table), by the number's keyed hash."""

    def read(self, keys: Sequence[str]) -> dict[str, PrivacyRecord]:
        """The records that exist among `keys`, in one batched read."""
        ...

    def suppress(self, key: str, masked: str, suppression: Suppression) -> bool:
        """Add (or replace) the entry of its scope; False when one of that scope was already there."""
        ...

    def unsuppress(self, key: str, scopes: Sequence[Scope]) -> list[Scope]:
        """Remove these scopes' entries; the scopes that were there."""
        ...

    def consent(self, key: str, masked: str, consent: Consent) -> None: ...

    def withdraw(self, key: str) -> bool:
        """Remove the consent; False when there was none."""
        ...

    def everything(self, limit: int = 1000) -> list[PrivacyRecord]:
        """Every record, newest first, for operators' lists."""
        ...


class PersonalRecords(Protocol):
    """What one store holds about one person, for an access request, and its erasure
    (tuma.services.personal_data)."""

    name: str

    def about(self, subject: Subject) -> list[dict[str, Any]]:
        """Everything held about the person, as the person may read it (numbers masked)."""
        ...

    def erase(self, subject: Subject) -> dict[str, int]:
        """Remove or anonymise it; how many of each kind of record changed. Idempotent."""
        ...


class PersonalLedger(PersonalRecords, Protocol):
    def messages_of(self, subject: Subject) -> list[tuple[str, str]]:
        """(idempotency key, recipient ref) of every ledger entry about the person."""
        ...


class AuditLog(Protocol):
    """Access and erasure requests, for the business's accountability: never the number."""

    def record(self, action: str, at: datetime, details: Mapping[str, Any]) -> None: ...

    def entries(self) -> list[dict[str, Any]]: ...


class Migration(Protocol):
    """A one-off walk over what an earlier version stored, a little each run, until it is done."""

    def run(self) -> int:
        """Do some of it; how many items it moved (0 once it is done)."""
        ...


class RetentionStore(Protocol):
    """Where the retention sweep (tuma.services.retention) finds a day's personal data."""

    def checkpoint(self) -> tuple[str, dict[str, Any] | None] | None:
        """The day the sweep is on and where in it (None: at its start); None before the first run."""
        ...

    def save_checkpoint(self, day: str, start: dict[str, Any] | None) -> None: ...

    def redact(self, day: str, start: dict[str, Any] | None, limit: int) -> tuple[int, dict[str, Any] | None]:
        """Remove the personal fields of up to `limit` records of `day` (East Africa date) from
        `start`; how many, and where the next page starts (None: the day is done)."""
        ...


class LowState(Protocol):
    def flip(self, name: str, low: bool, at: str) -> bool:
        """Set the state to `low` unless it already is; True when this call changed it."""
        ...


# -- templates ---------------------------------------------------------------------------------


class TemplateSource(Protocol):
    """What senders render with: the business's templates and routing, as of now (cached)."""

    def catalog(self) -> Catalog: ...


class TemplateStore(TemplateSource, Protocol):
    """What the template editors (`tuma templates`, the console) change."""

    def history(self, name: str, language: str) -> list[StoredTemplate]: ...

    def save(self, template: StoredTemplate) -> StoredTemplate: ...

    def use(self, name: str, language: str, version: int) -> StoredTemplate: ...

    def routing_history(self) -> list[Routing]: ...

    def save_routing(self, routing: Routing) -> Routing: ...

    def use_routing(self, version: int) -> Routing: ...


# -- secrets and metrics ------------------------------------------------------------------------


class WebhookSecrets(Protocol):
    def current(self) -> WebhookSecret:
        """The signing key, and the stack's first path token (accepted while a caller's `legacy`)."""
        ...

    def callback_token(self, caller: Caller, fresh: bool = False) -> CallbackToken:
        """The path token a caller that cannot sign puts in its URLs (its own secret). `fresh`: read
        it again rather than from the cache (a token just rotated), at most every half minute."""
        ...


class ApiKeys(Protocol):
    def key(self, key_id: str, fresh: bool = False) -> ApiKey | None:
        """The business's key of that id (None: no such key, or revoked). `fresh`: read the key set
        again rather than from the cache (a key just created), at most every ten seconds."""
        ...


class ReplayGuard(Protocol):
    def first_use(self, name: str, keep_until: int) -> bool:
        """True the first time `name` (a key's nonce) is used; remembered until `keep_until`
        (unix seconds), when a signature carrying it is stale anyway."""
        ...


class MetricsSink(Protocol):
    """What the domain needs from a metrics library: counts and sizes, nothing Lambda-specific."""

    def count(self, name: str, value: float = 1) -> None: ...

    def measure(self, name: str, seconds: float) -> None:
        """A duration, for percentiles (time from send to final status)."""
        ...
