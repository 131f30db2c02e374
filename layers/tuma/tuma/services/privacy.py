"""The people Tuma texts: who asked not to be texted, who agreed to promotions, and when promotions
may go (Kenya's Data Protection Act 2019, regulation 15 of its General Regulations 2021; Safaricom's
promotional rules).

- **Suppression**: before every send the sender looks each recipient up (one batched read per batch,
  overlapping the claims). A recipient suppressed for the message's category is SUPPRESSED, with the
  reason: it costs nothing and is never retried. Scope `promotional` stops promotions only; `all`
  stops every message (the customer asked the business to stop everything).
- **Opt-outs learnt from the network**: a delivery report that says the number blocked the sender
  (tuma.services.delivery_reports, `opted_out`) adds the number for promotions.
- **Erasure**: a person erased (tuma privacy erase) keeps, in the privacy table, their objection
  (its scope, no number) and, for a while, digests of their messages then known: a copy of one still
  on a queue, or redriven, is SUPPRESSED without their number, never sent.
- **Consent**: a promotion goes only to a number with a consent on record, unless the business set
  RequirePromotionalConsent=false and took that responsibility.
- **The window**: promotions go only between the window's opening and closing, East Africa Time;
  outside it they are held (SCHEDULED) for its next opening.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tuma.errors import InvalidInput
from tuma.formatting.clock import EAT, now_utc
from tuma.formatting.phones import KENYA_ONLY, InvalidNumber, Recipient, parse_recipient
from tuma.models.privacy import MessageCategory, Scope, SuppressionSource
from tuma.models.privacy_records import Consent, PrivacyRecord, Suppression

if TYPE_CHECKING:
    from tuma.models.sending import Delivery
    from tuma.ports import PrivacyStore
    from tuma.security.number_keys import NumberKeys

log = logging.getLogger(__name__)
NO_CONSENT = "no consent to promotional messages is on record (tuma consent add)"


ERASED_REASON = "not sent: the recipient's data was erased at their request (a copy from before the erasure)"


@dataclass(frozen=True)
class Screened:
    delivery: Delivery
    suppressed: bool  # True: SUPPRESSED; False: REJECTED (a promotion without consent)
    reason: str
    # The person was erased after this message was made: recorded without their number or text.
    erased: bool = False


class InvalidEntry(InvalidInput):
    """A request about a number that cannot be acted on; `field` names what to fix."""


@dataclass(frozen=True)
class Person:
    """A number as the privacy records know it."""

    key: str
    masked: str


class Privacy:
    def __init__(
        self,
        store: PrivacyStore,
        keys: NumberKeys,
        *,
        require_consent: bool = True,
        clock: Callable[[], datetime] = now_utc,
        countries: frozenset[int] = KENYA_ONLY,
    ) -> None:
        self._store = store
        self._keys = keys
        self._require_consent = require_consent
        self._clock = clock
        self._countries = countries
        self._pool: ThreadPoolExecutor | None = None

    # -- the sender's screen ---------------------------------------------------------------------

    def prefetch(self, deliveries: Sequence[Delivery]) -> Future[dict[str, PrivacyRecord]]:
        """Start the one read `screen` needs, so that it overlaps the claims."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="privacy")
        return self._pool.submit(self._read, deliveries)

    def _read(self, deliveries: Sequence[Delivery]) -> dict[str, PrivacyRecord]:
        keys = {self._keys.of_recipient(d.recipient) for d in deliveries}
        return self._store.read(sorted(keys)) if keys else {}

    def screen(
        self, deliveries: Sequence[Delivery], prefetched: Future[dict[str, PrivacyRecord]] | None = None
    ) -> tuple[list[Delivery], list[Screened]]:
        """What may go, and what may not (with why). `prefetched`: `prefetch` of these or more."""
        if not deliveries:
            return [], []
        records = prefetched.result() if prefetched is not None else self._read(deliveries)
        go: list[Delivery] = []
        stopped: list[Screened] = []
        for delivery in deliveries:
            verdict = self._verdict(delivery, records.get(self._keys.of_recipient(delivery.recipient)))
            if verdict is None:
                go.append(delivery)
            else:
                stopped.append(verdict)
        return go, stopped

    def _verdict(self, delivery: Delivery, record: PrivacyRecord | None) -> Screened | None:
        """Why this message may not go to this person (None: it may)."""
        promotional = delivery.message_category is MessageCategory.PROMOTIONAL
        no_consent = Screened(delivery, False, NO_CONSENT)
        if record is None:
            return no_consent if promotional and self._require_consent else None
        if record.erased is not None and record.erased.covers(delivery.idempotency_key):
            return Screened(delivery, True, ERASED_REASON, erased=True)
        suppression = record.suppression_for(delivery.message_category)
        if suppression is not None:
            return Screened(delivery, True, _suppressed_reason(suppression))
        return no_consent if promotional and self._require_consent and record.consent is None else None

    # -- what the network tells ------------------------------------------------------------------

    def opted_out(self, recipients: Sequence[tuple[str, str]], description: str) -> int:
        """Numbers a delivery report says blocked the sender (`(ref, masked)` of its ledger entries),
        added for promotions; how many were new."""
        added = 0
        for ref, masked in recipients:
            try:
                key = self._keys.of_ref(ref)
            except ValueError:
                continue
            entry = Suppression(
                Scope.PROMOTIONAL,
                f"the network reported {description!r}: the number blocked the sender or all promotions",
                SuppressionSource.DELIVERY_REPORT,
                self._clock(),
            )
            if self._store.suppress(key, masked, entry):
                added += 1
                log.warning("suppressed %s for promotions: %s", masked, description)
        return added

    # -- operators and the business's own systems ------------------------------------------------

    def person(self, number: str, field: str = "number") -> Person:
        """A number in any Kenyan form, or Safaricom's hash of one; InvalidEntry otherwise."""
        recipient = one_person(number, field, self._countries)
        return Person(self._keys.of_recipient(recipient), recipient.masked)

    def check(self, person: Person) -> PrivacyRecord:
        return self._store.read([person.key]).get(person.key) or PrivacyRecord(person.key, person.masked)

    def suppress(self, person: Person, scope: Scope, reason: str, source: SuppressionSource) -> bool:
        return self._store.suppress(
            person.key, person.masked, Suppression(scope, reason or "asked to stop", source, self._clock())
        )

    def unsuppress(self, person: Person, scope: Scope | None = None) -> list[Scope]:
        return self._store.unsuppress(person.key, [scope] if scope else list(Scope))

    def consent(self, person: Person, source: str, wording: str, at: datetime | None = None) -> None:
        self._store.consent(person.key, person.masked, Consent(source, wording, at or self._clock()))

    def withdraw(self, person: Person) -> bool:
        return self._store.withdraw(person.key)

    def everything(self, limit: int = 1000) -> list[PrivacyRecord]:
        return self._store.everything(limit)


def one_person(number: str, field: str = "number", countries: frozenset[int] = KENYA_ONLY) -> Recipient:
    """The recipient a number names, in any Kenyan form or as Safaricom's hash of it: InvalidEntry
    (naming `field`) when it is malformed, or masked and so cannot name one person."""
    try:
        recipient = parse_recipient(number, countries)
    except InvalidNumber as exc:
        raise InvalidEntry(field, exc.reason) from None
    if not recipient.sendable:
        raise InvalidEntry(field, "a masked number cannot name one person: give the whole number")
    return recipient


def _suppressed_reason(suppression: Suppression) -> str:
    what = "every message" if suppression.scope is Scope.ALL else "promotional messages"
    since = suppression.at.astimezone(EAT).strftime("%Y-%m-%d")
    return f"suppressed for {what} since {since} ({suppression.source}): {suppression.reason}"[:500]
