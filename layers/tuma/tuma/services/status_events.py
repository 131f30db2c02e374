"""Status events pushed to the business: every status change of every message, signed, in order.

The ledger's stream says what changed; each change to a recipient's status becomes one event, with
an id the receiver can deduplicate on and a `sequence` (the status's rank: scheduled 0, queued 1,
sent 2, final 3) that only grows for a message, so a receiver can ignore anything older than what it
has. Events of one message go in order (one FIFO group per message and recipient); RETRYING is
internal and not pushed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from tuma.models.ledger import Status
from tuma.security.signing import signature


@dataclass(frozen=True)
class StatusEvent:
    event_id: str
    idempotency_key: str
    recipient: str  # masked
    status: str
    previous_status: str | None
    sequence: int
    reason: str | None
    provider_message_id: str | None
    parts: int | None
    delivery_status: str | None
    final_via: str | None
    at: str

    @property
    def group(self) -> str:
        """One ordered stream of events per message and recipient."""
        return hashlib.sha256(f"{self.idempotency_key}|{self.recipient}".encode()).hexdigest()[:64]

    def body(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True).encode()


def event_from_change(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> StatusEvent | None:
    """The event a ledger change is worth, or None (no status change, a record of Tuma's own, an
    internal or backward step)."""
    if (
        not new
        # An erasure re-keys an entry (tuma.services.personal_data): nothing happened to the message.
        or new.get("erased_at")
        or str(new.get("recipient_ref", "#")).startswith("#")
        or str(new.get("idempotency_key", "#")).startswith("#")
    ):
        return None
    try:
        status = Status(str(new.get("status")))
        before = Status(str(old["status"])) if old and old.get("status") else None
    except ValueError:
        return None
    if status is Status.RETRYING or status is before:
        return None
    if before is not None and before.rank > status.rank:
        return None
    key, ref = str(new["idempotency_key"]), str(new["recipient_ref"])
    return StatusEvent(
        event_id=hashlib.sha256(f"{key}|{ref}|{status.value}".encode()).hexdigest()[:32],
        idempotency_key=key,
        recipient=str(new.get("recipient", "-")),
        status=status.value.lower(),
        previous_status=before.value.lower() if before else None,
        sequence=status.rank,
        reason=new.get("reason"),
        provider_message_id=new.get("provider_message_id"),
        parts=int(new["parts"]) if new.get("parts") is not None else None,
        delivery_status=new.get("delivery_status"),
        final_via=new.get("final_via"),
        at=str(new.get("updated_at", "")),
    )


def signed_headers(body: bytes, key: bytes, timestamp: str, event_id: str) -> dict[str, str]:
    """The same scheme as Tuma's own signed webhooks: HMAC-SHA256 over `timestamp.body`."""
    return {
        "Content-Type": "application/json",
        "X-Tuma-Timestamp": timestamp,
        "X-Tuma-Signature": signature(key, timestamp, body),
        "X-Tuma-Event-Id": event_id,
    }
