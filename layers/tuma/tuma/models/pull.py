"""Rows of Daraja's Pull Transactions answer: the C2B payments M-Pesa has for a short code.

Read as leniently as the callbacks (tuma.models.mpesa): field names in any case, amounts and numbers
as strings or numbers. A row becomes the same `Payment` a C2B confirmation would, keyed by its
M-Pesa receipt number, so that a payment both reported and pulled makes one receipt. A row that
cannot be read is one rejection with its reason, never the whole page's.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tuma.formatting.clock import EAT, parse_time
from tuma.models.daraja import PullTimes
from tuma.models.payments import InvalidPayment, Payment
from tuma.models.sources import PaymentSource
from tuma.models.validation import OptionalText, summarize

# Names as Safaricom's Pull page gives them, read whatever their case.
_NAMES = {
    "transactionid": "transaction_id",
    "trxdate": "trx_date",
    "msisdn": "msisdn",
    "transactiontype": "transaction_type",
    "billreference": "bill_reference",
    "amount": "amount",
    "organizationname": "organization_name",
}
_FIELDS = {
    "reference": "transactionId",
    "amount": "amount",
    "paid_at": "trxDate",
    "phone": "msisdn",
}
# What a receipt can go without: a row whose only fault is one of these still makes one.
_OPTIONAL = ("bill_reference", "organization_name", "trx_date")

# The kinds of row that are a customer's payment into the business, as Pull labels them:
# `c2b-pay-bill-debit` in Safaricom's Pull Transactions page (its sample answer), and
# `c2b-buy-goods-debit` in integrators' published answers from production tills. Anything else
# (`merchant-to-organization-settlement`, a sweep of the till's money, for one) is no payment by a
# customer: skipped, counted and logged by its label (docs/design.md, "Daraja's Pull").
RECEIPT_TYPES = frozenset({"c2b-pay-bill-debit", "c2b-buy-goods-debit"})
NO_TYPE = "(none)"


def read_trx_date(value: str, times: PullTimes) -> datetime:
    text = value.strip()
    if times is PullTimes.KENYA and text.upper().endswith("Z"):
        return parse_time(text[:-1]).replace(tzinfo=EAT)
    return parse_time(text)


class PulledTransaction(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    transaction_id: OptionalText = None
    trx_date: OptionalText = None
    msisdn: OptionalText = None
    transaction_type: OptionalText = None
    bill_reference: OptionalText = None
    amount: Any = None
    organization_name: OptionalText = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> PulledTransaction:
        known = {_NAMES[key.lower()]: value for key, value in row.items() if key.lower() in _NAMES}
        return cls.model_validate(known)

    @property
    def kind(self) -> str:
        return (self.transaction_type or "").strip().lower() or NO_TYPE

    @property
    def is_payment(self) -> bool:
        """A customer's payment into the business (RECEIPT_TYPES); other rows make no receipt."""
        return self.kind in RECEIPT_TYPES

    def key(self) -> str:
        return row_key(self.model_dump())

    def paid_at(self, times: PullTimes) -> datetime | None:
        try:
            return read_trx_date(self.trx_date, times) if self.trx_date else None
        except ValueError:
            return None

    def payment(self, short_code: str, times: PullTimes = PullTimes.KENYA) -> Payment:
        try:
            return Payment(
                reference=self.transaction_id,
                amount=self.amount,
                phone=self.msisdn,
                account=self.bill_reference,
                paid_at=self.paid_at(times),
                source=PaymentSource.PULL,
                short_code=short_code,
            )
        except ValidationError as exc:
            raise InvalidPayment(
                self.key(), f"pulled transaction cannot make a receipt: {summarize(exc, 3, _FIELDS)}"
            ) from None


def row_key(row: dict[str, Any]) -> str:
    """The ledger key of a row: its receipt number when it has a usable one, else a digest of it."""
    raw = next((v for k, v in row.items() if k.lower() in ("transactionid", "transaction_id")), None)
    reference = str(raw).strip().upper() if isinstance(raw, str | int) else ""
    if reference and len(reference) <= 64 and reference.isprintable():
        return reference
    digest = hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()
    return f"pull:{digest[:16]}"


def read_row(row: Any) -> PulledTransaction:
    """A row as a transaction, its unreadable optional fields left out (a receipt can go without
    them); InvalidPayment when what a receipt needs cannot be read."""
    if not isinstance(row, dict):
        raise InvalidPayment(row_key({"row": row}), "pulled row is not an object")
    known = {_NAMES[key.lower()]: value for key, value in row.items() if str(key).lower() in _NAMES}
    while True:
        try:
            return PulledTransaction.model_validate(known)
        except ValidationError as exc:
            faulty = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
            if faulty - set(_OPTIONAL) or not faulty:
                raise _unreadable(row, faulty - set(_OPTIONAL)) from None
            known = {k: v for k, v in known.items() if k not in faulty}  # fewer each time: ends


def _unreadable(row: dict[str, Any], needed: set[str]) -> InvalidPayment:
    names = {v: k for k, v in _NAMES.items()}
    fields = ", ".join(sorted(names.get(f, f) for f in needed)) or "the row"
    return InvalidPayment(row_key(row), f"pulled row cannot be read: {fields}")
