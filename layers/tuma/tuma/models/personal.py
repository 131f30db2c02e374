"""A person as every store can recognise them (tuma.services.personal_data asks the stores about one)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tuma.formatting.phones import KENYA_ONLY, InvalidNumber, parse_recipient


@dataclass(frozen=True)
class Subject:
    """A person as every store can recognise them, without the number itself being needed: their
    keyed hash and the digest it is taken over (tuma.security.number_keys)."""

    digest: str
    masked: str
    number_key: str  # the privacy table's keyed hash
    countries: frozenset[int] = KENYA_ONLY
    # (idempotency key, recipient ref) of every ledger entry about them: what their claims are named by.
    messages: tuple[tuple[str, str], ...] = ()

    @property
    def refs(self) -> tuple[str, ...]:
        """Every ref their ledger entries may carry: keyed, and the unkeyed ones from before 0.3.0."""
        from tuma.security.number_keys import person_refs

        return person_refs(self.number_key, self.digest)

    def matches(self, value: object) -> bool:
        """Is `value` (a number in any form, or a hash) this person's number?"""
        if isinstance(value, Decimal) and value == value.to_integral_value():
            value = int(value)  # a number attribute, as DynamoDB gives it back
        if not isinstance(value, str | int) or isinstance(value, bool):
            return False
        text = str(value).strip()
        if not 9 <= len(text) <= 70:
            return False
        try:
            recipient = parse_recipient(text, self.countries)
        except InvalidNumber:
            return False
        return recipient.sendable and recipient.digest == self.digest
