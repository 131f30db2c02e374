"""The words of a person's wishes: what a message is (its category), what they asked to stop (a
scope), who recorded it, and when promotions may go. The records the privacy table keeps are in
tuma.models.privacy_records: a function that only reads these words (the webhooks, through every
outbox message's category) does not build those at its cold start."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from enum import StrEnum

from tuma.formatting.clock import EAT

# Safaricom's opt-out instruction, which every promotional SMS must carry (PromotionalFooter).
DEFAULT_FOOTER = "STOP*456*9*5#"


class MessageCategory(StrEnum):
    """Safaricom's split, and Kenya's Data Protection Act's: what may be sent without consent."""

    TRANSACTIONAL = "transactional"  # receipts, codes, alerts: what the customer's own dealings need
    PROMOTIONAL = "promotional"  # marketing: consent, the opt-out footer, the sending window


def with_footer(text: str, footer: str) -> str:
    """A promotion as it goes: its words, then the opt-out instruction (counted in its parts)."""
    return f"{text.rstrip()} {footer.strip()}" if footer.strip() else text


class Scope(StrEnum):
    PROMOTIONAL = "promotional"  # no more promotions; receipts and codes still go
    ALL = "all"  # the customer asked the business to stop every message

    def covers(self, category: MessageCategory) -> bool:
        return self is Scope.ALL or category is MessageCategory.PROMOTIONAL


class SuppressionSource(StrEnum):
    """Who put a number on the suppression list, for the business's accountability records."""

    OPERATOR = "operator"  # tuma suppress / tuma consent, the console
    API = "api"  # the business's own systems, through the signed routes
    DELIVERY_REPORT = "delivery-report"  # the network said the number blocked the sender


# What a suppression says once the person's data is erased: the objection stands, nothing else.
KEPT_AFTER_ERASURE = (
    "objection kept after erasure: the person asked to be erased and had asked to stop these messages; "
    "only this keyed hash and its scope are kept, so that the objection is honoured (no number is kept)"
)
# What the ledger shows in place of an erased person's number.
ERASED_RECIPIENT = "erased"
# How long an erased person's messages already on a queue are watched for (SQS keeps a message at
# most 14 days; a redrive from the dead-letter queue does not restart that clock with a move task).
ERASED_WATCH = timedelta(days=15)


def message_digest(idempotency_key: str) -> str:
    """An erased person's message, as the privacy table remembers it: not its key (a receipt number)."""
    import hashlib

    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


DEFAULT_WINDOW = "08:00-18:00"


class SendWindow:
    """When promotions may go: `HH:MM-HH:MM`, East Africa Time, opening inclusive; `24:00` closes at
    the end of the day (`00:00-24:00`: always open)."""

    def __init__(self, spec: str = DEFAULT_WINDOW) -> None:
        try:
            first, last = (part.strip() for part in spec.split("-"))
            opening = time.fromisoformat(first)
            closing = time.max if last == "24:00" else time.fromisoformat(last)
        except ValueError:
            raise ValueError(f"a sending window is HH:MM-HH:MM, not {spec!r}") from None
        if len(first) != 5 or len(last) != 5 or opening >= closing:
            raise ValueError(f"the window {spec!r} is not HH:MM-HH:MM, opening before closing")
        self.opening, self.closing = opening, closing
        self.spec = f"{first}-{last}"

    def next_opening(self, moment: datetime) -> datetime | None:
        """None when `moment` is inside the window; otherwise when it next opens."""
        local = moment.astimezone(EAT)
        if self.opening <= local.time() < self.closing:
            return None
        day = local.date() if local.time() < self.opening else local.date() + timedelta(days=1)
        return datetime.combine(day, self.opening, tzinfo=EAT)
