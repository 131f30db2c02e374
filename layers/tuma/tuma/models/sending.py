"""What sending carries: a message for the provider's bulk call, the provider's verdict on it, and the
claims that keep each message to one SMS (the ports in tuma.ports move these)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from tuma.formatting.clock import parse_time
from tuma.models.ledger import Status
from tuma.models.provider_codes import Disposition


@dataclass(frozen=True)
class BulkMessage:
    client_sms_id: str
    mobile: str
    message: str
    # The provider that must carry it: an earlier attempt there may have been accepted unseen.
    pinned: str | None = None
    # Sent under the promotional sender ID (the credentials' promotional_shortcode).
    promotional: bool = False


@dataclass(frozen=True)
class SendResult:
    """The provider's verdict on one message or recipient, classified for the caller."""

    disposition: Disposition
    description: str
    code: int | None = None
    message_id: str | None = None
    network_id: str | None = None
    provider: str | None = None  # which provider answered (primary, secondary)
    # The request may have reached the provider though no answer came back (a read timeout, a
    # dropped connection): sending it anywhere else could make it arrive twice.
    maybe_accepted: bool = False

    @property
    def accepted(self) -> bool:
        return self.disposition is Disposition.SUCCESS


class ClaimState(StrEnum):
    NEW = "new"  # ours to send
    DONE = "done"  # already sent (or settled for good) by an earlier attempt
    BUSY = "busy"  # another invocation is sending it right now


Claim = tuple[str, str]  # (idempotency key, recipient ref or "#event")


@dataclass(frozen=True)
class Settlement:
    """What an attempt settled a claim with: the message went (with the provider's id for it and
    which provider), or it can never go (the provider's code, or Tuma's own refusal)."""

    status: Status  # SENT, REJECTED or SUPPRESSED
    at: datetime | None = None
    message_id: str | None = None
    provider: str | None = None
    code: int | None = None

    def data(self) -> dict[str, str | int]:
        """As the claims table keeps it (Powertools Idempotency's `data`, JSON)."""
        fields = {
            "status": self.status.value,
            "at": self.at.isoformat() if self.at else None,
            "message_id": self.message_id,
            "provider": self.provider,
            "code": self.code,
        }
        return {name: value for name, value in fields.items() if value is not None}

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> Settlement | None:
        """From the table; None when it is not one (a claim written by something else)."""
        try:
            status = Status(str(data.get("status")))
        except ValueError:
            return None
        try:
            at: datetime | None = parse_time(data["at"]) if data.get("at") else None
        except ValueError:
            at = None  # a claim settled before its time was recorded
        code = data.get("code")
        return cls(
            status,
            at,
            str(data["message_id"]) if data.get("message_id") else None,
            str(data["provider"]) if data.get("provider") else None,
            int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else None,
        )


@dataclass(frozen=True)
class Claimed:
    state: ClaimState
    # DONE: what the earlier attempt settled, so a ledger entry that attempt left QUEUED (it crashed
    # between settling the claim and writing the ledger) can be completed.
    result: Settlement | None = None
    # NEW after an attempt that may have been accepted unseen: the provider it must go to again.
    pinned: str | None = None
