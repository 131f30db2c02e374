"""The ledger: one entry per message and recipient, from queued to delivered (or why not).

Numbers are stored masked; `recipient_ref` (a digest) keys the entry without revealing the number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tuma.formatting.clock import now_utc
from tuma.models.sources import PaymentSource

# The recipient ref of an entry that never had a usable recipient (a message rejected before one
# was known).
NO_RECIPIENT_REF = "-"


class Status(StrEnum):
    SCHEDULED = "SCHEDULED"  # waits for its send_at; can still be cancelled
    QUEUED = "QUEUED"  # claimed, about to go to the provider
    RETRYING = "RETRYING"  # a send attempt failed for a reason worth another try; it will come back
    SENT = "SENT"  # accepted by the provider; its delivery report is awaited
    DELIVERED = "DELIVERED"  # the network reported delivery
    FAILED = "FAILED"  # the network reported that it could not deliver
    EXPIRED = "EXPIRED"  # no delivery report came within the reconciler's patience (72 h)
    REJECTED = "REJECTED"  # can never be sent: bad number, text or template
    UNDELIVERABLE = "UNDELIVERABLE"  # no usable number (masked at the source and not resolved)
    CANCELLED = "CANCELLED"  # a scheduled message withdrawn before it went
    SUPPRESSED = "SUPPRESSED"  # the recipient is on the suppression list for this kind of message
    # A receipt for a large payment, held until M-Pesa's own record confirms it (ConfirmPaymentsFrom).
    AWAITING_CONFIRMATION = "AWAITING_CONFIRMATION"

    @property
    def rank(self) -> int:
        """Statuses only move up this order (SENT never returns to QUEUED, a final one never changes);
        status events carry it as `sequence` so that a receiver can ignore an older one."""
        return _RANKS[self]

    @property
    def final(self) -> bool:
        return self.rank == FINAL_RANK


FINAL_RANK = 3
_RANKS = {
    Status.SCHEDULED: 0,
    Status.AWAITING_CONFIRMATION: 0,
    Status.QUEUED: 1,
    Status.RETRYING: 1,
    Status.SENT: 2,
    **dict.fromkeys(
        (
            Status.DELIVERED,
            Status.FAILED,
            Status.EXPIRED,
            Status.REJECTED,
            Status.UNDELIVERABLE,
            Status.CANCELLED,
            Status.SUPPRESSED,
        ),
        FINAL_RANK,
    ),
}


# The providers a message can go through (a secondary only when one is configured).
PRIMARY, SECONDARY = "primary", "secondary"


@dataclass(frozen=True)
class LedgerEntry:
    idempotency_key: str
    recipient_ref: str
    recipient: str  # masked
    status: Status
    template: str | None = None
    route: str | None = None
    source: str | None = None
    parts: int | None = None
    provider_message_id: str | None = None
    provider_code: int | None = None
    reason: str | None = None
    attempts: int | None = None
    delivery_status: str | None = None
    text: str | None = None  # the SMS as sent (GSM7)
    updated_at: datetime = field(default_factory=now_utc)
    queued_at: datetime | None = None
    sent_at: datetime | None = None
    final_at: datetime | None = None
    final_via: str | None = None  # how the final status was learnt: send, callback, polling, expiry
    scheduled_for: datetime | None = None
    check_due_at: datetime | None = None  # when Tuma asks the provider for its report, if none came
    provider: str | None = None  # which provider carried it: primary or secondary


@dataclass(frozen=True)
class DeliveryUpdate:
    """A delivery report to apply to whatever entry carries `provider_message_id`."""

    provider_message_id: str
    delivery_status: str
    status: Status
    rank: int
    reported_at: datetime | None = None
    description: str | None = None  # verbatim, as the provider wrote it
    kind: str | None = None  # delivered, final_failure, in_progress or unknown
    via: str = "callback"  # or "polling": how the report reached Tuma
    provider: str = PRIMARY  # whose report it is: message ids are only unique per provider
    opted_out: bool = False  # the number blocked the sender (tuma.services.delivery_reports)
    # (key, ref) of the entry, when the caller knows it (a report check): found without the message
    # id's `#sent` record, which entries from before 0.3.0 lack.
    entry: tuple[str, str] | None = None

    @property
    def final(self) -> bool:
        return self.kind in ("delivered", "final_failure")


@dataclass(frozen=True)
class PaymentSeen:
    """One source's report of a payment, for the payment's record: which sources saw it, the best
    number anyone gave for its payer (`payer_rank`: 3 the payer's number, 2 its hash, 1 the customer
    directory's), and what finance reads of it (the first source to say each fact wins)."""

    reference: str
    source: PaymentSource
    payer: str | None = None
    payer_rank: int = 0
    payer_masked: str | None = None
    amount: str | None = None  # decimal text, as parsed: never a float
    currency: str | None = None
    account: str | None = None
    short_code: str | None = None
    paid_at: datetime | None = None
    # What intake made of it (None: this source's report changes nothing): written once the receipt
    # is queued or settled, so that a payment whose callback failed half-way has none, and the pull
    # knows to make its receipt.
    receipt: ReceiptMark | None = None


class ReceiptMark(StrEnum):
    """What became of a payment's receipt, on its record: what the pull reads to know whether a
    receipt went or is on its way (tuma.services.pull)."""

    QUEUED = "queued"  # on the outbox queue: the sender's claims keep it to one SMS
    HELD = "held"  # waiting for M-Pesa's word (ConfirmPaymentsFrom)
    UNDELIVERABLE = "undeliverable"  # nobody to send to yet: a better number may still come
    REJECTED = "rejected"  # can never make a receipt (recorded with the reason)
    # Not the business's to receipt (paid to another short code, over MAX_PAYMENT_AMOUNT): kept so
    # that no later report counts it new, in a record finance does not list as a payment.
    REFUSED = "refused"


@dataclass(frozen=True)
class PaymentState:
    """A payment's record as the pull reads it: who reported it, and what became of its receipt."""

    sources: frozenset[str]
    receipt: ReceiptMark | None = None


class Confirmation(StrEnum):
    """Whether M-Pesa's own record has a payment a callback reported (the pull reads that record)."""

    CONFIRMED = "CONFIRMED"  # the pull listed it, or a Transaction Status answer Tuma asked for proved it
    UNCONFIRMED = "UNCONFIRMED"  # the pull read past its time twice and M-Pesa's record has no such payment


# How a payment reported by Daraja's callbacks is confirmed by M-Pesa's own record.
CONFIRMING_SOURCES = frozenset({PaymentSource.PULL, PaymentSource.STATUS_QUERY})
CALLBACK_SOURCES = frozenset({PaymentSource.C2B, PaymentSource.STK})


def confirmation_of(record: Mapping[str, Any]) -> Confirmation | None:
    """A payment record's confirmation (None: not known either way, or not a callback's payment)."""
    sources = {str(source) for source in record.get("sources") or ()}
    if sources & CONFIRMING_SOURCES:
        return Confirmation.CONFIRMED
    if record.get("unconfirmed_at"):
        return Confirmation.UNCONFIRMED
    return None


@dataclass(frozen=True)
class HeldReceipt:
    """A receipt waiting for M-Pesa's own record to confirm its payment (ConfirmPaymentsFrom)."""

    reference: str
    amount: str  # what the callback said, as parsed: decimal text
    message: str  # the outbox message, JSON, as it will be queued


@dataclass(frozen=True)
class DueCheck:
    """A sent message whose delivery report Tuma will ask the provider for (getdlr) at `due_at`."""

    idempotency_key: str
    recipient_ref: str
    provider_message_id: str
    sent_at: datetime
    due_at: datetime
    attempts: int = 0
    provider: str = PRIMARY


@dataclass(frozen=True)
class ScheduledMessage:
    """An outbox message held until `due_at` (its send_at), then put back on the outbox."""

    idempotency_key: str
    due_at: datetime
    body: str  # the outbox message, as JSON, without its send_at


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"
    NOT_SCHEDULED = "not scheduled"  # no scheduled message under that key
    ALREADY_GONE = "already sent"  # it was released to the sender before (a cancelled one answers CANCELLED)


class ReportOutcome(StrEnum):
    """What a delivery report did to the ledger; the value names its metric."""

    APPLIED = "DeliveryReportsApplied"
    STALE = "DeliveryReportsStale"  # not newer than what the ledger already knew
    UNKNOWN = "DeliveryReportsUnknown"  # no message carries that id

    @property
    def answer(self) -> str:
        """The word the delivery-report endpoint answers with."""
        return self.name.lower()
