"""A completed payment, whichever source reported it, and the receipt it deserves."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from tuma.formatting.clock import parse_time
from tuma.formatting.money import parse_amount
from tuma.models.outbox import OutboxMessage, SendAt
from tuma.models.sources import PaymentSource
from tuma.models.validation import AsText, FreeText, Reference

# What parse_amount accepts, as the OpenAPI document says it (MAX_PAYMENT_AMOUNT is 1,000,000 unless set).
# The string pattern is what parse_amount accepts, more than 0 and at most 1,000,000: whole shillings
# (with `,` between every group of three, or none), with up to two decimals, or under one shilling.
AMOUNT_PATTERN = (
    r"^(?:(?:[1-9][0-9]{0,5}|[1-9][0-9]{0,2},[0-9]{3})(?:\.[0-9]{1,2})?"
    r"|0\.(?:0[1-9]|[1-9][0-9]?)|(?:1000000|1,000,000)(?:\.00?)?)$"
)
AMOUNT_SCHEMA = {
    "description": (
        "KES, more than 0 and at most MaxPaymentAmount (1,000,000 unless set): a whole number, or text "
        "with at most two decimals and `,` only between thousands (JSON numbers with two decimals are "
        "read too)"
    ),
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        {"type": "string", "pattern": AMOUNT_PATTERN, "maxLength": 12},
    ],
}
Amount = Annotated[Decimal, BeforeValidator(parse_amount), WithJsonSchema(AMOUNT_SCHEMA)]
Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]


class InvalidPayment(ValueError):
    """A payment whose report cannot make a receipt (no reference, an amount that is not money...).

    `key` names the payment in the ledger, `field` the input at fault when one is.
    """

    def __init__(self, key: str, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason
        self.field = field


class Payment(BaseModel):
    model_config = ConfigDict(frozen=True)

    reference: Reference
    amount: Amount
    currency: Currency = "KES"
    phone: AsText | None = Field(default=None, max_length=200)
    name: FreeText = None
    account: FreeText = None
    paid_at: datetime | None = None
    source: PaymentSource
    # The paybill or till that received it (Daraja's BusinessShortCode), when the source says.
    short_code: FreeText = None
    send_at: SendAt = None  # a receipt to go later (rare)

    @field_validator("paid_at", mode="before")
    @classmethod
    def _paid_at(cls, value: Any) -> Any:
        return parse_time(value) if value not in (None, "") else None

    def receipt(self, recipient: str, language: str = "en") -> OutboxMessage:
        """The receipt, keyed by the payment reference: the key every source of this payment shares."""
        data: dict[str, Any] = {
            "reference": self.reference,
            "amount": str(self.amount),
            "currency": self.currency,
        }
        if self.name:
            data["name"] = self.name
        if self.account:
            data["account"] = self.account
        if self.paid_at:
            data["paid_at"] = self.paid_at.isoformat()
        if self.short_code:
            data["short_code"] = self.short_code  # picks the paybill's own wording (template routing)
        return OutboxMessage(
            idempotency_key=self.reference,
            to=(recipient,),
            template="receipt",
            data=data,
            language=language,
            source=self.source,
            dedupe="event",
            send_at=self.send_at,
        )


class PaymentRequest(BaseModel):
    """`POST /payments`: a payment your own systems saw, signed with an API key holding `payments`."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # see mpesa._Daraja

    reference: Reference
    amount: Amount
    phone: AsText = Field(min_length=1, max_length=200)
    currency: Currency = "KES"
    name: FreeText = None
    account: FreeText = None
    paid_at: str | None = Field(
        default=None,
        max_length=40,
        description=(
            "when it was paid: RFC 3339 (`2026-12-04T08:00:00+03:00`), ISO 8601 without a zone (East "
            "Africa Time), or M-Pesa's `20261204080000`; anything else is refused with 422"
        ),
    )
    send_at: SendAt = None

    def payment(self) -> Payment:
        return Payment(
            reference=self.reference,
            amount=self.amount,
            phone=self.phone,
            currency=self.currency.upper(),
            name=self.name,
            account=self.account,
            paid_at=self.paid_at,
            source=PaymentSource.PAYMENTS_API,
            send_at=self.send_at,
        )
