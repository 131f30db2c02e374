"""A completed payment, whichever source reported it, and the receipt it deserves."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from tuma.eat import parse_time
from tuma.outbox import OutboxMessage

_SPACES = re.compile(r"\s+")


def amount_of(value: Any) -> Decimal:
    """Amounts arrive as strings ("10", "5.00", "1,500"), integers, floats or Decimals."""
    if isinstance(value, bool) or value is None:
        raise ValueError("amount is required and must be a number")
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise ValueError("amount is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("amount must be a non-negative number")
    return amount


def person_name(*parts: Any) -> str | None:
    """Join Daraja's name parts; SHOUTED names (as M-Pesa often sends them) become Title Case."""
    name = _SPACES.sub(" ", " ".join(str(p) for p in parts if p not in (None, ""))).strip()
    if not name:
        return None
    return name.title() if name.isupper() else name


def _text(value: Any) -> Any:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_text)]


class Payment(BaseModel):
    model_config = ConfigDict(frozen=True)

    reference: Text = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
    amount: Annotated[Decimal, BeforeValidator(amount_of)]
    currency: str = Field(default="KES", pattern=r"^[A-Za-z]{3}$")
    phone: Text | None = Field(default=None, max_length=100)
    name: str | None = Field(default=None, max_length=100)
    account: Text | None = Field(default=None, max_length=100)
    paid_at: datetime | None = None
    source: str = Field(default="api", max_length=32)

    @field_validator("reference", mode="after")
    @classmethod
    def _reference(cls, value: str) -> str:
        return value.strip()

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

    reference: Text = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
    amount: Annotated[Decimal, BeforeValidator(amount_of)]
    phone: Text = Field(min_length=1, max_length=100)
    currency: str = Field(default="KES", pattern=r"^[A-Za-z]{3}$")
    name: str | None = Field(default=None, max_length=100)
    account: Text | None = Field(default=None, max_length=100)
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
