"""Address: a message deduplicated by its event (a receipt) goes once, to the best number known for its
payer: the payment's record keeps the best any source gave (intake ranks them), unless this batch
holds a better kind of number (a plain number beats Safaricom's hash of it). Of two copies to as
good a number, a callback's wins over the pull's, which has no payer's name."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tuma.formatting.phones import InvalidNumber, parse_recipient
from tuma.models.sending import RANK, Delivery
from tuma.models.sources import PaymentSource
from tuma.ports import Ledger
from tuma.services.send_path.batch import Batch

log = logging.getLogger(__name__)


class Addresser:
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def address(self, batch: Batch, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """Each event's deliveries narrowed to one, to the best number; other messages as they are."""
        best: dict[str, Delivery] = {}
        others: list[Delivery] = []
        for delivery in deliveries:
            if not delivery.per_event:
                others.append(delivery)
                continue
            current = best.get(delivery.idempotency_key)
            if current is not None:
                batch.tally.count("DuplicatesSkipped")
            if current is None or _better(delivery, current):
                best[delivery.idempotency_key] = delivery
        for key, value in self._best_payers(list(best)).items():
            try:
                recipient = parse_recipient(value)
            except InvalidNumber:
                continue
            if RANK[recipient.kind] >= RANK[best[key].recipient.kind] and recipient != best[key].recipient:
                best[key] = best[key].to(recipient)
        return others + list(best.values())

    def _best_payers(self, keys: list[str]) -> dict[str, str]:
        try:
            return self._ledger.best_payers(keys) if keys else {}
        except ConnectionError as exc:
            # The payment records could not all be read: each receipt still goes, to the best number
            # this batch holds for it, rather than the whole batch waiting on the ledger.
            log.warning("best payer numbers unread, sending to the batch's own: %s", exc)
            return {}


def _better(delivery: Delivery, current: Delivery) -> bool:
    ours, theirs = RANK[delivery.recipient.kind], RANK[current.recipient.kind]
    if ours != theirs:
        return ours > theirs
    return current.source == PaymentSource.PULL and delivery.source != PaymentSource.PULL
