"""Intake: business events (payments, alerts) become outbox messages, or a recorded reason why not.

Every source (Daraja callbacks, the signed API, the payments stream) comes through here, so a
payment reported by several of them is keyed the same way and sends one receipt.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from tuma.errors import InvalidInput
from tuma.formatting.money import format_money
from tuma.formatting.phones import RecipientKind
from tuma.models.ledger import NO_RECIPIENT_REF, LedgerEntry, PaymentSeen, ReceiptMark, Status
from tuma.models.outbox import OutboxMessage
from tuma.models.payments import InvalidPayment, Payment
from tuma.models.sources import PaymentSource
from tuma.security.masking import mask
from tuma.services.recipients import Payer, resolve

if TYPE_CHECKING:
    # Parsed by the webhooks' routes; the payments stream, which shares this module, never loads them.
    from tuma.models.alerts import AlertRequest
    from tuma.models.mpesa import C2BConfirmation, C2BValidation, StatusResult, StkCallback, StkResult
    from tuma.models.payments import PaymentRequest
    from tuma.ports import CustomerDirectory, Ledger, OutboxQueue
    from tuma.services.confirmation import Confirmations

log = logging.getLogger(__name__)
DEFAULT_MAX_AMOUNT = Decimal(1_000_000)  # beyond what one M-Pesa payment can carry
# What Daraja reports: a payment to one of the business's short codes, checked as such.
DARAJA_SOURCES = frozenset({PaymentSource.C2B, PaymentSource.STK, PaymentSource.STATUS_QUERY})


class Fate(StrEnum):
    """What became of a business event at intake; the value names its metric."""

    QUEUED = "ReceiptsQueued"
    UNDELIVERABLE = "ReceiptsUndeliverable"  # nobody to send to: recorded with the reason
    REJECTED = "PaymentsRejected"  # the report cannot make a receipt: recorded with the reason
    NOT_PAID = "StkNotCompleted"  # an STK Push that was cancelled or failed: no money, no receipt
    # Transaction Status answers: one about a payment Tuma already knows changes nothing; one that
    # proves no customer payment (not completed, not found, a payout) is kept for the operator.
    ALREADY_KNOWN = "StatusAnswersKnown"
    NO_PAYMENT = "StatusAnswersWithoutPayment"
    # An answer to no request Tuma made (or answered already, or too late): acknowledged, ignored.
    UNASKED = "StatusAnswersUnasked"
    # M-Pesa did not do the query (the initiator's credential, for one): nothing said of the payment.
    QUERY_REFUSED = "StatusQueriesRefused"
    # A large payment's receipt, held until M-Pesa's own record confirms it (ConfirmPaymentsFrom).
    HELD = "ReceiptsHeldForConfirmation"
    CONFIRMED = "ReceiptsConfirmed"  # M-Pesa confirmed it: the held receipt is queued


@dataclass(frozen=True)
class Outcome:
    idempotency_key: str
    fate: Fate
    reason: str | None = None

    @property
    def queued(self) -> bool:
        return self.fate is Fate.QUEUED

    def answer(self) -> dict[str, str]:
        body = {"status": "queued" if self.queued else "not sent", "idempotency_key": self.idempotency_key}
        if self.reason:
            body["reason"] = self.reason
        return body


def _seen(payment: Payment, payer: Payer | None, receipt: ReceiptMark | None) -> PaymentSeen:
    """This source's report for the payment's record; its number ranked: the payer's own number 3,
    Safaricom's hash of it 2, the customer directory's number 1."""
    facts = {
        "amount": str(payment.amount),
        "currency": payment.currency,
        "account": payment.account,
        "short_code": payment.short_code,
        "paid_at": payment.paid_at,
        "receipt": receipt,
    }
    if payer is None or payer.recipient is None:
        return PaymentSeen(payment.reference, payment.source, **facts)  # type: ignore[arg-type]
    received = payer.received
    if received is not None and received.value == payer.recipient:
        rank = 3 if received.kind is RecipientKind.MSISDN else 2
    else:
        rank = 1
    return PaymentSeen(
        payment.reference,
        payment.source,
        payer.recipient,
        rank,
        mask(payer.recipient),
        **facts,  # type: ignore[arg-type]
    )


@dataclass
class _Planned:
    """A payment's receipt to queue, or what became of it instead; and its record once that is done."""

    seen: PaymentSeen
    message: OutboxMessage | None = None
    outcome: Outcome | None = None

    def outbox(self) -> OutboxMessage:
        assert self.message is not None
        return self.message


class PaymentRefused(InvalidInput):
    """A payment the caller can be told about (a 422 naming the field) instead of a recorded rejection."""


class Intake:
    def __init__(
        self,
        queue: OutboxQueue,
        ledger: Ledger,
        directory: CustomerDirectory | None = None,
        *,
        language: str = "en",
        account_check: bool = False,
        max_amount: Decimal = DEFAULT_MAX_AMOUNT,
        short_codes: frozenset[str] = frozenset(),
        confirmations: Confirmations | None = None,
    ) -> None:
        """`short_codes`: the business's paybills and tills; a Daraja payment to any other is refused
        (none given: not checked). `confirmations`: large payments' receipts wait for M-Pesa's word
        (None: none waits)."""
        self._queue = queue
        self._ledger = ledger
        self._directory = directory
        self._language = language
        self._account_check = account_check
        self._max_amount = max_amount
        self._short_codes = short_codes
        self._confirmations = confirmations

    # -- payments ---------------------------------------------------------------------------------

    def refusal(self, payment: Payment) -> PaymentRefused | None:
        """Why this well-formed payment must still not make a receipt, if it must not."""
        short_code = self._foreign_short_code(payment)
        if short_code is not None:
            return PaymentRefused(
                "short_code",
                f"paid to short code {short_code or '(none given)'}, which is not one of the business's "
                f"({', '.join(sorted(self._short_codes))}: BusinessShortCodes)",
            )
        if payment.amount > self._max_amount:
            return PaymentRefused(
                "amount",
                f"amount {format_money(payment.amount, payment.currency)} is over the limit of "
                f"{format_money(self._max_amount, payment.currency)} for one payment (MAX_PAYMENT_AMOUNT)",
            )
        return None

    def _foreign_short_code(self, payment: Payment) -> str | None:
        """The short code of a Daraja payment made to another business ('' when it names none)."""
        if not self._short_codes or payment.source not in DARAJA_SOURCES:
            return None
        if payment.source is PaymentSource.STK and payment.short_code is None:
            return None  # an STK result names no short code: the business's own request started it
        return None if payment.short_code in self._short_codes else payment.short_code or ""

    def _plan(self, payment: Payment) -> _Planned:
        """The receipt, or what stops it recorded. The payment's record is written by the caller once
        the receipt is queued: a record without a receipt mark is one whose queueing failed."""
        refused = self.refusal(payment)
        if refused is not None:
            outcome = self.reject(payment.reference, refused.reason, payment.source)
            seen = _seen(payment, None, ReceiptMark.REFUSED)
            self._ledger.note_payment(seen)  # known, so that no later report counts it new again
            return _Planned(seen, outcome=outcome)
        payer = resolve(payment.phone, payment.account, self._directory)
        if payer.recipient is not None:
            message = payment.receipt(payer.recipient, self._language)
            if self._confirmations is not None and self._confirmations.must_wait(payment):
                from tuma.formatting.phones import parse_recipient

                reason = self._confirmations.hold(payment, message, parse_recipient(payer.recipient))
                seen = _seen(payment, payer, ReceiptMark.HELD)
                self._ledger.note_payment(seen)
                return _Planned(seen, outcome=Outcome(payment.reference, Fate.HELD, reason))
            return _Planned(_seen(payment, payer, ReceiptMark.QUEUED), message=message)
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
        seen = _seen(payment, payer, ReceiptMark.UNDELIVERABLE)
        self._ledger.note_payment(seen)
        log.warning("receipt %s is undeliverable: %s", payment.reference, payer.reason)
        return _Planned(seen, outcome=Outcome(payment.reference, Fate.UNDELIVERABLE, payer.reason))

    def receipt(self, payment: Payment, *, answerable: bool = False) -> Outcome:
        """Queue the receipt. With `answerable` (the caller reads our answer) a refusal raises
        PaymentRefused and nothing is recorded; otherwise it is recorded as REJECTED."""
        if answerable:
            refused = self.refusal(payment)
            if refused is not None:
                raise refused
        planned = self._plan(payment)
        if planned.message is None:
            assert planned.outcome is not None
            return planned.outcome
        self._queue.put(planned.message)
        self._ledger.note_payment(planned.seen)
        return Outcome(payment.reference, Fate.QUEUED)

    def receipts(self, payments: Sequence[Payment], *, backlog: bool = False) -> list[Outcome | None]:
        """Queue many in as few calls as possible; None marks a payment whose receipt could not be
        queued (its record is left without a receipt mark, for the next pull to try again).
        `backlog`: late already (the pull's recoveries), sent in bulk behind live receipts."""
        planned = [self._plan(p) for p in payments]
        sendable = [p for p in planned if p.message is not None]
        failed = self._queue.put_many([p.outbox() for p in sendable], backlog=backlog) if sendable else set()
        went = [plan for position, plan in enumerate(sendable) if position not in failed]
        self._ledger.note_payments([plan.seen for plan in went])
        for plan in went:
            plan.outcome = Outcome(plan.seen.reference, Fate.QUEUED)
        return [p.outcome for p in planned]

    def payment_request(self, request: PaymentRequest) -> Outcome:
        """A payment from the business's own systems, which read the answer: a field only the reading
        as a payment refuses (paid_at as a time), or a refusal, raises PaymentRefused naming it."""
        from pydantic import ValidationError

        try:
            payment = request.payment()
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            raise PaymentRefused(".".join(str(p) for p in first["loc"]) or "body", first["msg"]) from None
        return self.receipt(payment, answerable=True)

    def confirm(self, payments: Sequence[Payment]) -> dict[str, Fate]:
        """M-Pesa's own record shows these payments: their held receipts go (or end REJECTED when
        M-Pesa's amount is not the callback's). What became of each one that was held."""
        if self._confirmations is None or not payments:
            return {}
        done = self._confirmations.confirm([(p.reference, p.amount) for p in payments])
        return {reference: Fate(confirmed.value) for reference, confirmed in done.items()}

    def reject(self, key: str, reason: str, source: PaymentSource, fate: Fate = Fate.REJECTED) -> Outcome:
        """A business event that can never yield a message: recorded, never retried."""
        self._ledger.record_unsendable(
            [LedgerEntry(key, NO_RECIPIENT_REF, "-", Status.REJECTED, source=source, reason=reason[:500])]
        )
        log.warning("%s event %s yields no message: %s", source, key, reason)
        return Outcome(key, fate, reason)

    def invalid(self, problem: InvalidPayment, source: PaymentSource) -> Outcome:
        return self.reject(problem.key, problem.reason, source)

    # -- Daraja ---------------------------------------------------------------------------------

    def c2b_validation(self, request: C2BValidation) -> dict[str, str]:
        """Daraja's accept/reject; checks the account number only when configured to."""
        from tuma.models.mpesa import ACCEPT, INVALID_ACCOUNT, INVALID_SHORT_CODE, reject

        if self._short_codes and request.BusinessShortCode not in self._short_codes:
            log.info("C2B validation rejected a payment to another short code")
            return reject(INVALID_SHORT_CODE)
        if not self._account_check:
            return ACCEPT
        account = request.BillRefNumber
        if not account or self._directory is None or not self._directory.knows(account):
            log.info("C2B validation rejected an unknown account")
            return reject(INVALID_ACCOUNT)
        return ACCEPT

    def c2b_confirmation(self, request: C2BConfirmation) -> Outcome:
        """A C2B confirmation: its receipt queued, or what stops it recorded (Daraja is always
        acknowledged, so that it does not retry what can never make a receipt)."""
        try:
            return self.receipt(request.payment())
        except InvalidPayment as problem:
            return self.invalid(problem, PaymentSource.C2B)

    def stk_callback(self, callback: StkCallback) -> Outcome:
        """An STK Push callback; one with no result in it at all is recorded, never dropped."""
        result = callback.result()
        if result is None:
            return self.reject(
                callback.key(), "STK callback has no Body.stkCallback: nothing to read", PaymentSource.STK
            )
        return self.stk_result(result)

    def stk_result(self, result: StkResult) -> Outcome:
        key = result.key()
        if result.ResultCode is None:
            return self.reject(key, "STK callback carries no ResultCode", PaymentSource.STK)
        if not result.succeeded:
            reason = f"payment not completed: {result.ResultCode} {result.ResultDesc or ''}".strip()
            return self.reject(key, reason, PaymentSource.STK, Fate.NOT_PAID)
        try:
            payment = result.payment()
        except InvalidPayment as exc:
            return self.invalid(exc, PaymentSource.STK)
        return self.receipt(payment)

    def status_result(self, result: StatusResult, now: datetime) -> Outcome:
        """Daraja's Transaction Status answer, to a request Tuma made (once, in time; anything else
        changes nothing): kept beside the payment for the operator who asked; a completed customer
        payment Tuma never saw gets its receipt (source `status-query`)."""
        key = result.key()
        originator, conversation = result.OriginatorConversationID, result.ConversationID
        if not (
            originator
            and conversation
            and self._ledger.answer_status_query(key, originator, conversation, now)
        ):
            log.warning("a Transaction Status answer about %s matches no request Tuma made: ignored", key)
            return Outcome(key, Fate.UNASKED, "no Transaction Status request of Tuma's is waiting for it")
        self._ledger.note_status_answer(
            key,
            {
                "result_code": result.ResultCode or "",
                "description": (result.refused or result.ResultDesc or "")[:300],
                "transaction_status": result.transaction_status or "",
            },
        )
        not_a_payment = self._without_payment(key, result)
        if not_a_payment is not None:
            return not_a_payment
        try:
            payment = result.payment()
        except InvalidPayment as problem:
            return self.invalid(problem, PaymentSource.STATUS_QUERY)
        if payment.reference in self._ledger.payment_sources([payment.reference]) or self._ledger.get(
            payment.reference
        ):
            confirmed = self.confirm([payment]).get(payment.reference)
            return Outcome(payment.reference, confirmed or Fate.ALREADY_KNOWN)
        return self.receipt(payment)

    @staticmethod
    def _without_payment(key: str, result: StatusResult) -> Outcome | None:
        """What an answer that proves no customer payment says, if it does not prove one."""
        if result.refused:
            log.error("Transaction Status about %s: %s", key, result.refused)
            return Outcome(key, Fate.QUERY_REFUSED, result.refused)
        if result.completed and result.payer()[0] is not None:
            return None
        reason = "no completed customer payment: " + (
            f"{result.ResultCode} {result.transaction_status or result.ResultDesc or ''}".strip()
        )
        log.info("Transaction Status answer for %s: %s", key, reason)
        return Outcome(key, Fate.NO_PAYMENT, reason[:300])

    # -- alerts ---------------------------------------------------------------------------------

    def alert(self, request: AlertRequest) -> Outcome:
        message = request.message()
        self._queue.put(message)
        return Outcome(message.idempotency_key, Fate.QUEUED)
