"""What Tuma keeps about a person's wishes: the suppression list and the consent record.

Both are keyed by the number's keyed hash (tuma.security.number_keys), never by the number: the list
itself reveals no number to whoever reads the table. A masked copy is kept for operators' eyes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tuma.models.privacy import MessageCategory, Scope, SuppressionSource, message_digest


@dataclass(frozen=True)
class Suppression:
    scope: Scope
    reason: str
    source: SuppressionSource
    at: datetime


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
