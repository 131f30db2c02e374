"""One person's data: everything Tuma keeps about a number, for an access request (Kenya's Data
Protection Act 2019, section 26: answered within 7 days) and for erasure (section 40: within 14).

Each store that can hold something about a person (`tuma.ports.PersonalRecords`) says what it holds
and erases it. The ledger keeps what billing needs (key, status, parts, provider message id, times)
under a fresh anonymous ref, with the number and the text gone; a receipt's claim is kept, because it
names the payment and not the person, so that a callback repeated after the erasure sends nothing.

A person is named by a number in any Kenyan form or by Safaricom's hash of it; a malformed one is
refused before anything changes. Erasure is idempotent: run again after an interruption, it finishes
what was left and changes nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tuma.formatting.clock import now_utc
from tuma.formatting.phones import KENYA_ONLY
from tuma.models.personal import Subject
from tuma.services.privacy import one_person

if TYPE_CHECKING:
    from tuma.ports import AuditLog, PersonalLedger, PersonalRecords
    from tuma.security.number_keys import NumberKeys


@dataclass
class Erasure:
    """What an erasure changed, by store and by what was changed."""

    at: datetime
    reference: str
    changed: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(sum(counts.values()) for counts in self.changed.values())

    def document(self) -> dict[str, Any]:
        return {
            "action": "erase",
            "at": self.at.isoformat(timespec="seconds"),
            "reference": self.reference,
            "changed": self.changed,
        }


class PersonalData:
    def __init__(
        self,
        ledger: PersonalLedger,
        stores: Sequence[PersonalRecords],
        keys: NumberKeys,
        audit: AuditLog,
        *,
        clock: Callable[[], datetime] = now_utc,
        countries: frozenset[int] = KENYA_ONLY,
    ) -> None:
        self._ledger = ledger
        self._stores = stores
        self._keys = keys
        self._audit = audit
        self._clock = clock
        self._countries = countries

    def subject(self, number: str, field_name: str = "number") -> Subject:
        """InvalidEntry (naming `field_name`) for anything that is not one person's number."""
        recipient = one_person(number, field_name, self._countries)
        subject = Subject(
            recipient.digest, recipient.masked, self._keys.of_recipient(recipient), self._countries
        )
        return replace(subject, messages=tuple(self._ledger.messages_of(subject)))

    def export(self, subject: Subject, reference: str = "") -> dict[str, Any]:
        """Everything held about the person, by store: empty lists when nothing is."""
        at = self._clock()
        records = {store.name: store.about(subject) for store in (self._ledger, *self._stores)}
        self._audit.record(
            "export",
            at,
            {"reference": reference, "found": {name: len(rows) for name, rows in records.items()}},
        )
        return {
            "subject": subject.masked,
            "generated_at": at.isoformat(timespec="seconds"),
            "records": records,
        }

    def erase(self, subject: Subject, reference: str = "") -> Erasure:
        """Erase everywhere; the ledger last, because the claims and scheduled sends are found from
        its entries (a second run after an interruption finds what is left)."""
        erasure = Erasure(self._clock(), reference)
        for store in (*self._stores, self._ledger):
            erasure.changed[store.name] = {k: v for k, v in store.erase(subject).items() if v}
        self._audit.record("erase", erasure.at, {"reference": reference, "changed": erasure.changed})
        return erasure
