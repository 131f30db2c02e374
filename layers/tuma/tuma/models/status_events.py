"""A status event: one change of one recipient's status, as the business's endpoint receives it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass


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
