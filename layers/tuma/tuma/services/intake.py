"""Intake: business events (payments, alerts) become outbox messages, or a recorded reason why not.

Every source (Daraja callbacks, the signed API, the payments stream) comes through here, so a
payment reported by several of them is keyed the same way and sends one receipt.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from tuma.models.alerts import AlertRequest
from tuma.models.ledger import LedgerEntry, Status
from tuma.models.mpesa import ACCEPT, INVALID_ACCOUNT, C2BValidation, StkResult, reject
from tuma.models.outbox import OutboxMessage
from tuma.models.payments import Payment
from tuma.ports import CustomerDirectory, Ledger, OutboxQueue
from tuma.services.planning import NO_RECIPIENT_REF
from tuma.services.recipients import resolve

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    idempotency_key: str
    queued: bool
    reason: str | None = None

    def answer(self) -> dict[str, str]:
        body = {"status": "queued" if self.queued else "not sent", "idempotency_key": self.idempotency_key}
        if self.reason:
            body["reason"] = self.reason
        return body


class Intake:
    def __init__(
        self,
        queue: OutboxQueue,
        ledger: Ledger,
        directory: CustomerDirectory | None = None,
        *,
        language: str = "en",
        account_check: bool = False,
    ) -> None:
        self._queue = queue
        self._ledger = ledger
        self._directory = directory
        self._language = language
        self._account_check = account_check

    # -- payments ---------------------------------------------------------------------------------

    def _plan(self, payment: Payment) -> OutboxMessage | Outcome:
        payer = resolve(payment.phone, payment.account, self._directory)
        if payer.recipient is not None:
            return payment.receipt(payer.recipient, self._language)
        received = payer.received
        self._ledger.record_unsendable(
            [
                LedgerEntry(
                    idempotency_key=payment.reference,
                    recipient_ref=received.ref if received else NO_RECIPIENT_REF,
                    recipient=received.masked if received else "-",
                    status=Status.UNDELIVERABLE,
                    template="receipt",
                    source=payment.source,
                    reason=payer.reason,
                )
            ]
        )
        log.warning("receipt %s is undeliverable: %s", payment.reference, payer.reason)
        return Outcome(payment.reference, queued=False, reason=payer.reason)

    def receipt(self, payment: Payment) -> Outcome:
        planned = self._plan(payment)
        if isinstance(planned, Outcome):
            return planned
        self._queue.put(planned)
        return Outcome(payment.reference, queued=True)

    def receipts(self, payments: Sequence[Payment]) -> list[Outcome | None]:
        """Queue many in as few calls as possible; None marks a payment whose receipt could not be queued."""
        planned = [self._plan(p) for p in payments]
        messages = [(i, m) for i, m in enumerate(planned) if isinstance(m, OutboxMessage)]
        failed = self._queue.put_many([m for _, m in messages]) if messages else set()
        outcomes: list[Outcome | None] = [p if isinstance(p, Outcome) else None for p in planned]
        for position, (index, message) in enumerate(messages):
            if position not in failed:
                outcomes[index] = Outcome(message.idempotency_key, queued=True)
        return outcomes

    def reject(self, key: str, reason: str, source: str) -> Outcome:
        """A business event that can never yield a message: recorded, never retried."""
        self._ledger.record_unsendable(
            [LedgerEntry(key, NO_RECIPIENT_REF, "-", Status.REJECTED, source=source, reason=reason[:500])]
        )
        log.warning("%s event %s yields no message: %s", source, key, reason)
        return Outcome(key, queued=False, reason=reason)

    # -- Daraja ---------------------------------------------------------------------------------

    def c2b_validation(self, request: C2BValidation) -> dict[str, str]:
        """Daraja's accept/reject; checks the account number only when configured to."""
        if not self._account_check:
            return ACCEPT
        account = request.BillRefNumber
        if not account or self._directory is None or not self._directory.knows(account):
            log.info("C2B validation rejected an unknown account")
            return reject(INVALID_ACCOUNT)
        return ACCEPT

    def stk_result(self, result: StkResult) -> Outcome:
        key = f"stk:{result.CheckoutRequestID}"
        if not result.succeeded:
            return self.reject(
                key, f"payment not completed: {result.ResultCode} {result.ResultDesc or ''}".strip(), "stk"
            )
        try:
            payment = result.payment()
        except ValueError as exc:
            return self.reject(key, str(exc), "stk")
        return self.receipt(payment)

    # -- alerts ---------------------------------------------------------------------------------

    def alert(self, request: AlertRequest) -> Outcome:
        message = request.message()
        self._queue.put(message)
        return Outcome(message.idempotency_key, queued=True)
