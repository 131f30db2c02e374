"""What Tuma keeps about a person's wishes: the suppression list and the consent record.

Both are keyed by the number's keyed hash (tuma.security.number_keys), never by the number: the list
itself reveals no number to whoever reads the table. A masked copy is kept for operators' eyes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Suppression:
    scope: Scope
    reason: str
    source: SuppressionSource
    at: datetime


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


@dataclass(frozen=True)
class Erased:
    """A person erased at `at`: their messages then known (`messages`, digests of their keys) must not
    go out again from a queue or a redrive, nor write their number back into the ledger."""

    at: datetime
    messages: frozenset[str] = frozenset()

    def covers(self, idempotency_key: str) -> bool:
        return message_digest(idempotency_key) in self.messages


@dataclass(frozen=True)
class Consent:
    source: str  # where the customer said yes: "web form", "shop counter", an app's name
    wording: str  # what they agreed to, as they saw it
    at: datetime


@dataclass(frozen=True)
class PrivacyRecord:
    """Everything kept about one number's wishes."""

    key: str  # the number's keyed hash
    masked: str
    suppressions: dict[Scope, Suppression] = field(default_factory=dict)
    consent: Consent | None = None
    erased: Erased | None = None

    def suppression_for(self, category: MessageCategory) -> Suppression | None:
        """The entry that stops a message of `category`, the widest first."""
        for scope in (Scope.ALL, Scope.PROMOTIONAL):
            found = self.suppressions.get(scope)
            if found is not None and scope.covers(category):
                return found
        return None

    @property
    def empty(self) -> bool:
        return not self.suppressions and self.consent is None


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
