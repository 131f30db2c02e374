"""The ledger: one entry per message and recipient, from queued to delivered (or why not).

Numbers are stored masked; `recipient_ref` (a digest) keys the entry without revealing the number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from tuma.eat import now_utc


class Status(StrEnum):
    QUEUED = "QUEUED"  # claimed, about to go to the provider
    SENT = "SENT"  # accepted by the provider
    DELIVERED = "DELIVERED"  # the network reported delivery
    FAILED = "FAILED"  # a send attempt failed (it may be retried) or the network reported failure
    REJECTED = "REJECTED"  # can never be sent: bad number, text or template
    UNDELIVERABLE = "UNDELIVERABLE"  # no usable number (masked at the source and not resolved)


FINAL = frozenset({Status.DELIVERED, Status.REJECTED, Status.UNDELIVERABLE})


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
    updated_at: datetime = field(default_factory=now_utc)

    def evolve(self, **changes: object) -> LedgerEntry:
        return replace(self, updated_at=now_utc(), **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DeliveryUpdate:
    """A delivery report to apply to whatever entry carries `provider_message_id`."""

    provider_message_id: str
    delivery_status: str
    status: Status
    rank: int
    reported_at: datetime | None = None


class Ledger(Protocol):
    def write(self, entries: Sequence[LedgerEntry]) -> None:
        """Record entries as they are now (creating or replacing them)."""
        ...

    def record_unsendable(self, entries: Sequence[LedgerEntry]) -> None:
        """Record REJECTED / UNDELIVERABLE entries, never over an entry that got further (a duplicate of a
        message that was sent must not turn its SENT entry into REJECTED)."""
        ...

    def get(self, idempotency_key: str) -> list[LedgerEntry]: ...

    def apply_delivery(self, update: DeliveryUpdate) -> str:
        """Apply a delivery report; answers "applied", "stale" (not newer) or "unknown" (no such message)."""
        ...
