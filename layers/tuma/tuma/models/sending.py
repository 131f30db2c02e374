"""What sending carries: a message for the provider's bulk call, the provider's verdict on it, and the
claims that keep each message to one SMS (the ports in tuma.ports move these)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from tuma.formatting.clock import parse_time
from tuma.formatting.gsm7 import SmsText
from tuma.formatting.phones import Recipient, RecipientKind
from tuma.models.ledger import LedgerEntry, Status
from tuma.models.outbox import Route
from tuma.models.privacy import MessageCategory
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
    # DONE or BUSY under a claim from before 0.3.0: the ref its attempt's ledger entry carries.
    entry_ref: str | None = None


class ProviderRoute(StrEnum):
    """Which of the provider's send endpoints carries a delivery (stored as the ledger's `route`)."""

    SMS = "sms"  # sendbulk / sendsms
    OTP = "otp"  # sendotp, the transactional route
    HASHED = "hashed"  # sendotp with a hashed Safaricom MSISDN


# The claim of a message deduplicated by its event (a receipt): one per key, whoever it goes to.
EVENT_CLAIM = "#event"
# How good a number is for reaching a payer: the number itself, then Safaricom's hash of it.
RANK = {RecipientKind.MSISDN: 2, RecipientKind.HASHED: 1, RecipientKind.MASKED: 0}


@dataclass(frozen=True)
class Delivery:
    record_id: str
    idempotency_key: str
    recipient: Recipient
    text: SmsText
    route: ProviderRoute
    template: str | None
    source: str | None
    requested: Route = Route.SMS
    per_event: bool = False
    pinned: str | None = None  # the provider an earlier, unanswered attempt went to
    # For the guards (tuma.services.guards): what kind of message this is, and for an alert or an
    # alarm what makes a repeat of it (its collapse key and state) and how an operator knows it.
    category: str = "message"
    collapse: tuple[str, str] | None = None
    collapse_title: str = ""
    # Transactional or promotional (tuma.services.privacy): what the suppression list, consent and the
    # promotional sender ID are judged by.
    message_category: MessageCategory = MessageCategory.TRANSACTIONAL
    # What the ledger keeps of the text when it differs from what is sent: a one-time code's digits
    # masked (the OTP route, a template kind for codes), so that whoever reads the ledger cannot use it.
    stored_text: str | None = None

    @property
    def claim(self) -> tuple[str, str]:
        """What is claimed before sending, so that it is sent once."""
        return (self.idempotency_key, EVENT_CLAIM if self.per_event else self.recipient.ref)

    def to(self, recipient: Recipient) -> Delivery:
        """The same message for another recipient (a better number for the same payer)."""
        return replace(self, recipient=recipient, route=route_for(recipient, self.requested))

    def entry(self, status: Status, **fields: object) -> LedgerEntry:
        return LedgerEntry(
            idempotency_key=self.idempotency_key,
            recipient_ref=self.recipient.ref,
            recipient=self.recipient.masked,
            status=status,
            template=self.template,
            route=self.route.value,
            source=self.source,
            parts=self.text.parts,
            text=self.text.text if self.stored_text is None else self.stored_text,
            **fields,  # type: ignore[arg-type]
        )


def route_for(recipient: Recipient, requested: Route) -> ProviderRoute:
    if recipient.kind is RecipientKind.HASHED:
        return ProviderRoute.HASHED
    return ProviderRoute.OTP if requested is Route.OTP else ProviderRoute.SMS
