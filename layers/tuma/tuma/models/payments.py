"""A completed payment, whichever source reported it, and the receipt it deserves."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from tuma.formatting.clock import parse_time
from tuma.formatting.money import parse_amount
from tuma.models.outbox import OutboxMessage
from tuma.models.validation import AsText, Reference

Amount = Annotated[Decimal, BeforeValidator(parse_amount)]
Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]


class Payment(BaseModel):
    model_config = ConfigDict(frozen=True)

    reference: Reference
    amount: Amount
    currency: Currency = "KES"
    phone: AsText | None = Field(default=None, max_length=100)
    name: str | None = Field(default=None, max_length=100)
    account: AsText | None = Field(default=None, max_length=100)
    paid_at: datetime | None = None
    source: str = Field(default="api", max_length=32)

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
        return OutboxMessage(
            idempotency_key=self.reference,
            to=(recipient,),
            template="receipt",
            data=data,
            language=language,
            source=self.source,
        )


class PaymentRequest(BaseModel):
    """`POST /payments`: a payment your own systems saw, signed with the webhook key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reference: Reference
    amount: Amount
    phone: AsText = Field(min_length=1, max_length=100)
    currency: Currency = "KES"
    name: str | None = Field(default=None, max_length=100)
    account: AsText | None = Field(default=None, max_length=100)
    paid_at: str | None = Field(default=None, max_length=40)

    def payment(self) -> Payment:
        return Payment(
            reference=self.reference,
            amount=self.amount,
            phone=self.phone,
            currency=self.currency.upper(),
            name=self.name,
            account=self.account,
            paid_at=self.paid_at,
            source="payments-api",
        )
