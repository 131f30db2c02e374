"""Large payments wait for M-Pesa's own word (the business's choice: ConfirmPaymentsFrom, off by default).

A receipt for a payment reported by Daraja's callbacks at or above the threshold is not queued: it
is kept on the payment's record, and its recipient's entry says AWAITING_CONFIRMATION (never a
silent drop). It goes when M-Pesa's own record shows the same payment with the same amount: the
pull lists it (tuma.services.pull), or a Transaction Status answer Tuma asked for proves it
(tuma.services.intake). M-Pesa saying another amount ends it REJECTED, with both figures in the
reason; M-Pesa never listing it leaves it held, and the pull marks the payment UNCONFIRMED.

What it costs: a held receipt waits for the next pull run after Daraja lists the payment, at most
one DarajaPullSchedule (15 minutes by default), or seconds when an operator asks M-Pesa about it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from tuma.formatting.clock import now_utc
from tuma.formatting.money import format_money
from tuma.models.ledger import CALLBACK_SOURCES, HeldReceipt, LedgerEntry, Status
from tuma.models.outbox import OutboxMessage

if TYPE_CHECKING:
    from tuma.formatting.phones import Recipient
    from tuma.models.payments import Payment
    from tuma.ports import Ledger, OutboxQueue

log = logging.getLogger(__name__)


class Confirmed(StrEnum):
    """What M-Pesa's word did to a held receipt; the value names its metric."""

    RELEASED = "ReceiptsConfirmed"  # the same payment, the same amount: the receipt goes
    CONTRADICTED = "PaymentsRejected"  # M-Pesa says another amount: nothing is sent


class Confirmations:
    def __init__(
        self,
        queue: OutboxQueue,
        ledger: Ledger,
        *,
        threshold: Decimal = Decimal(0),
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        """`threshold`: the amount from which a callback's payment waits (0: none waits)."""
        self._queue = queue
        self._ledger = ledger
        self._threshold = threshold
        self._clock = clock

    def must_wait(self, payment: Payment) -> bool:
        return (
            bool(self._threshold) and payment.source in CALLBACK_SOURCES and payment.amount >= self._threshold
        )

    def hold(self, payment: Payment, message: OutboxMessage, recipient: Recipient) -> str:
        """Keep the receipt until M-Pesa confirms the payment; the reason its entry shows."""
        reason = (
            f"held until M-Pesa's own record confirms it: payments of "
            f"{format_money(self._threshold, payment.currency)} or more wait (ConfirmPaymentsFrom)"
        )
        entry = LedgerEntry(
            idempotency_key=payment.reference,
            recipient_ref=recipient.ref,
            recipient=recipient.masked,
            status=Status.AWAITING_CONFIRMATION,
            template="receipt",
            source=payment.source,
            reason=reason,
            updated_at=self._clock(),
        )
        self._ledger.hold_receipt(
            HeldReceipt(payment.reference, str(payment.amount), message.to_json()), [entry]
        )
        log.info("receipt %s held until M-Pesa confirms the payment", payment.reference)
        return reason

    def confirm(self, payments: Sequence[tuple[str, Decimal]]) -> dict[str, Confirmed]:
        """M-Pesa's record shows these payments (reference, amount): each held receipt among them goes,
        or ends REJECTED when M-Pesa's amount is not the callback's."""
        held = self._ledger.held_receipts([reference for reference, _ in payments]) if payments else {}
        done: dict[str, Confirmed] = {}
        for reference, amount in payments:
            receipt = held.get(reference)
            if receipt is not None:
                done[reference] = self._confirm_one(receipt, amount)
        return done

    def _confirm_one(self, receipt: HeldReceipt, amount: Decimal) -> Confirmed:
        message = OutboxMessage.model_validate_json(receipt.message)
        if Decimal(receipt.amount) != amount:
            currency = str(message.data.get("currency") or "KES")
            reason = (
                f"M-Pesa's own record says {format_money(amount, currency)}, not the "
                f"{format_money(Decimal(receipt.amount), currency)} the callback said: nothing sent"
            )
            now = self._clock()
            entries = [
                LedgerEntry(
                    e.idempotency_key,
                    e.recipient_ref,
                    e.recipient,
                    Status.REJECTED,
                    template="receipt",
                    source=e.source,
                    reason=reason,
                    final_at=now,
                    updated_at=now,
                )
                for e in self._ledger.get(receipt.reference)
                if e.status is Status.AWAITING_CONFIRMATION
            ]
            self._ledger.write(entries)  # only its own held entries: nothing else ever wrote them
            self._ledger.release_held(receipt.reference)
            log.error("payment %s: %s", receipt.reference, reason)
            return Confirmed.CONTRADICTED
        # Queued before it is taken off the record: a crash between the two queues it again next
        # time, and the sender's claims keep that to one SMS.
        self._queue.put(message)
        self._ledger.release_held(receipt.reference)
        return Confirmed.RELEASED
