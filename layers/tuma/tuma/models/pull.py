"""Rows of Daraja's Pull Transactions answer: the C2B payments M-Pesa has for a short code.

Read as leniently as the callbacks (tuma.models.mpesa): field names in any case, amounts and numbers
as strings or numbers. A row becomes the same `Payment` a C2B confirmation would, keyed by its
M-Pesa receipt number, so that a payment both reported and pulled makes one receipt.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

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
    def is_payment(self) -> bool:
        """A customer's C2B payment (Pay Bill or Buy Goods). Rows of other kinds make no receipt."""
        kind = (self.transaction_type or "").strip().lower()
        return not kind or kind.startswith("c2b")

    def key(self) -> str:
        reference = (self.transaction_id or "").strip().upper()
        if reference and len(reference) <= 64 and reference.isprintable():
            return reference
        digest = hashlib.sha256(
            json.dumps(self.model_dump(), sort_keys=True, default=str).encode()
        ).hexdigest()
        return f"pull:{digest[:16]}"

    def payment(self, short_code: str) -> Payment:
        try:
            return Payment(
                reference=self.transaction_id,
                amount=self.amount,
                phone=self.msisdn,
                account=self.bill_reference,
                paid_at=self.trx_date,
                source=PaymentSource.PULL,
                short_code=short_code,
            )
        except ValidationError as exc:
            raise InvalidPayment(
                self.key(), f"pulled transaction cannot make a receipt: {summarize(exc, 3, _FIELDS)}"
            ) from None
