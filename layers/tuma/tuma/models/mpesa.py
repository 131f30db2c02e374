"""Safaricom Daraja callbacks: C2B validation and confirmation, STK Push results.

Parsed leniently, because Daraja's own samples disagree: amounts as strings, integers or floats,
STK metadata items in any order, a `Balance` item without `Value`, no `PhoneNumber` at all, result
codes as numbers or as strings such as "SFC_IC0003". Times are EAT `YYYYMMDDHHmmss`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from tuma.models.payments import Amount, Payment
from tuma.models.validation import AsText, OptionalText, Reference

ACCEPT = {"ResultCode": "0", "ResultDesc": "Accepted"}
CONFIRMED = {"ResultCode": 0, "ResultDesc": "Accepted"}


def reject(code: str) -> dict[str, str]:
    """Daraja's validation rejection: one of its C2B0001x result codes."""
    return {"ResultCode": code, "ResultDesc": "Rejected"}


INVALID_ACCOUNT = "C2B00012"


class _Daraja(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


_SPACES = re.compile(r"\s+")


def person_name(*parts: Any) -> str | None:
    """Join Daraja's name parts; SHOUTED names (as M-Pesa often sends them) become Title Case."""
    name = _SPACES.sub(" ", " ".join(str(p) for p in parts if p not in (None, ""))).strip()
    if not name:
        return None
    return name.title() if name.isupper() else name


class C2BValidation(_Daraja):
    """What Daraja asks the validation URL; every field optional, Daraja minimises what it sends."""

    TransactionType: OptionalText = None
    TransID: OptionalText = None
    TransAmount: OptionalText = None
    BusinessShortCode: OptionalText = None
    BillRefNumber: OptionalText = None
    MSISDN: OptionalText = None


class C2BConfirmation(_Daraja):
    TransID: Reference
    TransAmount: Amount
    TransactionType: OptionalText = None
    TransTime: OptionalText = None
    BusinessShortCode: OptionalText = None
    BillRefNumber: OptionalText = Field(default=None, max_length=100)
    InvoiceNumber: OptionalText = None
    MSISDN: OptionalText = Field(default=None, max_length=100)
    FirstName: OptionalText = Field(default=None, max_length=60)
    MiddleName: OptionalText = Field(default=None, max_length=60)
    LastName: OptionalText = Field(default=None, max_length=60)

    def payment(self) -> Payment:
        return Payment(
            reference=self.TransID,
            amount=self.TransAmount,
            phone=self.MSISDN,
            name=person_name(self.FirstName, self.MiddleName, self.LastName),
            account=self.BillRefNumber,
            paid_at=self.TransTime,
            source="c2b",
        )


class StkItem(_Daraja):
    Name: str
    Value: Any = None


class StkMetadata(_Daraja):
    Item: list[StkItem] = Field(default_factory=list)


class StkResult(_Daraja):
    MerchantRequestID: OptionalText = None
    CheckoutRequestID: AsText = Field(min_length=1, max_length=100)
    ResultCode: Annotated[str, BeforeValidator(lambda v: str(v).strip() if v is not None else v)]
    ResultDesc: OptionalText = Field(default=None, max_length=300)
    CallbackMetadata: StkMetadata | None = None

    @property
    def succeeded(self) -> bool:
        return self.ResultCode == "0"

    def metadata(self) -> dict[str, Any]:
        items = self.CallbackMetadata.Item if self.CallbackMetadata else []
        return {item.Name: item.Value for item in items if item.Value is not None}

    def payment(self) -> Payment:
        """The payment of a successful callback; ValueError naming what is missing otherwise."""
        meta = self.metadata()
        try:
            return Payment(
                reference=meta.get("MpesaReceiptNumber"),
                amount=meta.get("Amount"),
                phone=None if meta.get("PhoneNumber") is None else str(meta["PhoneNumber"]),
                paid_at=meta.get("TransactionDate"),
                source="stk",
            )
        except ValidationError as exc:
            names = {"reference": "MpesaReceiptNumber", "amount": "Amount", "paid_at": "TransactionDate"}
            fields = ", ".join(
                sorted({names.get(str(e["loc"][0]), str(e["loc"][0])) for e in exc.errors() if e["loc"]})
            )
            raise ValueError(f"STK callback metadata lacks a usable {fields}") from None


class StkBody(_Daraja):
    stkCallback: StkResult  # noqa: N815 - Daraja's spelling


class StkCallback(_Daraja):
    Body: StkBody
