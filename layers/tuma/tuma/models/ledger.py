"""The ledger: one entry per message and recipient, from queued to delivered (or why not).

Numbers are stored masked; `recipient_ref` (a digest) keys the entry without revealing the number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from tuma.formatting.clock import now_utc


class Status(StrEnum):
    QUEUED = "QUEUED"  # claimed, about to go to the provider
    SENT = "SENT"  # accepted by the provider
    DELIVERED = "DELIVERED"  # the network reported delivery
    FAILED = "FAILED"  # a send attempt failed (it may be retried) or the network reported failure
    REJECTED = "REJECTED"  # can never be sent: bad number, text or template
    UNDELIVERABLE = "UNDELIVERABLE"  # no usable number (masked at the source and not resolved)


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


@dataclass(frozen=True)
class PaymentSeen:
    """One source's report of a payment, for the payment's record: which sources saw it, and the
    best number anyone gave for its payer (`payer_rank`: 2 a number, 1 a hashed number)."""

    reference: str
    source: str
    payer: str | None = None
    payer_rank: int = 0
    payer_masked: str | None = None


class ReportOutcome(StrEnum):
    """What a delivery report did to the ledger; the value names its metric."""

    APPLIED = "DeliveryReportsApplied"
    STALE = "DeliveryReportsStale"  # not newer than what the ledger already knew
    UNKNOWN = "DeliveryReportsUnknown"  # no message carries that id

    @property
    def answer(self) -> str:
        """The word the delivery-report endpoint answers with."""
        return self.name.lower()
