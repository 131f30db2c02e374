"""Safaricom Daraja callbacks: C2B validation and confirmation, STK Push results.

Parsed leniently, because Daraja's own samples disagree: amounts as strings, integers or floats,
STK metadata items in any order, a `Balance` item without `Value`, no `PhoneNumber` at all, result
codes as numbers or as strings such as "SFC_IC0003". Times are EAT `YYYYMMDDHHmmss`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tuma.models.payments import InvalidPayment, Payment
from tuma.models.sources import PaymentSource
from tuma.models.validation import AsText, OptionalText, summarize

ACCEPT = {"ResultCode": "0", "ResultDesc": "Accepted"}
CONFIRMED = {"ResultCode": 0, "ResultDesc": "Accepted"}


def reject(code: str) -> dict[str, str]:
    """Daraja's validation rejection: one of its C2B0001x result codes."""
    return {"ResultCode": code, "ResultDesc": "Rejected"}


INVALID_ACCOUNT = "C2B00012"
INVALID_SHORT_CODE = "C2B00015"

# Transaction Status result codes that say nothing about the payment: M-Pesa did not do the query.
# 2001: "The initiator information is invalid." Daraja's answer to a SecurityCredential that is not
# the initiator's password encrypted with Safaricom's certificate (or a wrong initiator name).
QUERY_REFUSED = {
    "2001": (
        "M-Pesa refused the initiator (2001: the initiator name, or the security credential, is wrong). "
        "The credential must be the initiator's password encrypted with Safaricom's certificate: run "
        "tuma daraja credential"
    ),
}


class _Daraja(BaseModel):
    # defer_build: the webhooks function serves many routes and a container sees few of them, so
    # each request model is built at its route's first request, not at every cold start.
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)


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
    """Read without refusing anything: Daraja must always be acknowledged, so a confirmation that
    cannot make a receipt is recorded with its reason (by `payment()`), not answered with a 4xx."""

    TransID: OptionalText = None
    TransAmount: Any = None
    TransactionType: OptionalText = None
    TransTime: OptionalText = None
    BusinessShortCode: OptionalText = None
    BillRefNumber: OptionalText = None
    InvoiceNumber: OptionalText = None
    MSISDN: OptionalText = None
    FirstName: OptionalText = None
    MiddleName: OptionalText = None
    LastName: OptionalText = None

    def key(self) -> str:
        """The ledger key of this confirmation, even when its TransID is unusable."""
        reference = (self.TransID or "").strip().upper()
        if reference and len(reference) <= 64 and reference.isprintable():
            return reference
        digest = hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]
        return f"c2b:{digest}"

    def payment(self) -> Payment:
        """The payment; InvalidPayment (keyed, with the Daraja field at fault) when it cannot be one."""
        try:
            return Payment(
                reference=self.TransID,
                amount=self.TransAmount,
                phone=self.MSISDN,
                name=person_name(self.FirstName, self.MiddleName, self.LastName),
                account=self.BillRefNumber,
                paid_at=self.TransTime,
                source=PaymentSource.C2B,
                short_code=self.BusinessShortCode,
            )
        except ValidationError as exc:
            names = {
                "reference": "TransID",
                "amount": "TransAmount",
                "paid_at": "TransTime",
                "phone": "MSISDN",
            }
            first = str(exc.errors()[0]["loc"][0]) if exc.errors() and exc.errors()[0]["loc"] else None
            raise InvalidPayment(
                self.key(),
                f"C2B confirmation cannot make a receipt: {summarize(exc, 3, names)}",
                names.get(first or "", first),
            ) from None


class StkItem(_Daraja):
    Name: AsText
    Value: Any = None


class StkMetadata(_Daraja):
    Item: list[StkItem] = Field(default_factory=list)

    @field_validator("Item", mode="before")
    @classmethod
    def _items(cls, value: Any) -> Any:
        # Items that are not {"Name": ...} objects are dropped: what is missing is reported by name.
        if isinstance(value, list):
            return [item for item in value if isinstance(item, dict) and isinstance(item.get("Name"), str)]
        return []


class StkResult(_Daraja):
    """Read without refusing: what cannot make a receipt is recorded by intake, and Daraja acknowledged."""

    MerchantRequestID: OptionalText = None
    CheckoutRequestID: OptionalText = None
    ResultCode: OptionalText = None
    ResultDesc: OptionalText = None
    CallbackMetadata: StkMetadata | None = None

    def key(self) -> str:
        checkout = (self.CheckoutRequestID or "").strip()
        if checkout and len(checkout) <= 100 and checkout.isprintable():
            return f"stk:{checkout}"
        return f"stk:{hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]}"

    @property
    def succeeded(self) -> bool:
        return (self.ResultCode or "").strip() == "0"

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
                source=PaymentSource.STK,
            )
        except ValidationError as exc:
            names = {"reference": "MpesaReceiptNumber", "amount": "Amount", "paid_at": "TransactionDate"}
            # Under the receipt number when there is one: that is what an operator searches for.
            receipt = meta.get("MpesaReceiptNumber")
            usable = isinstance(receipt, str) and receipt.strip() and receipt.strip().isprintable()
            key = receipt.strip().upper()[:64] if usable else self.key()  # type: ignore[union-attr]
            raise InvalidPayment(
                key, f"STK callback metadata lacks a usable {summarize(exc, 3, names)}"
            ) from None


class StkBody(_Daraja):
    stkCallback: StkResult | None = None  # noqa: N815 - Daraja's spelling


class StkCallback(_Daraja):
    Body: StkBody | None = None

    @model_validator(mode="before")
    @classmethod
    def _unwrapped(cls, data: Any) -> Any:
        # Some gateways forward the inner {"stkCallback": {...}} without Daraja's "Body" wrapper.
        if isinstance(data, dict) and "Body" not in data and isinstance(data.get("stkCallback"), dict):
            return {"Body": {"stkCallback": data["stkCallback"]}}
        return data

    def result(self) -> StkResult | None:
        """The STK result, None when the callback carries none at all."""
        return self.Body.stkCallback if self.Body is not None else None

    def key(self) -> str:
        """A ledger key for a callback with nothing to read: distinct for distinct bodies."""
        return f"stk:{hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]}"


# -- Transaction Status: the answer Daraja posts to the result route --------------------------------


class StatusParameter(_Daraja):
    Key: AsText
    Value: Any = None


def _listed(value: Any) -> Any:
    """Daraja sends one parameter as an object and several as a list."""
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict) and isinstance(item.get("Key"), str)]
    return []


class StatusParameters(_Daraja):
    ResultParameter: list[StatusParameter] = Field(default_factory=list)

    @field_validator("ResultParameter", mode="before")
    @classmethod
    def _parameters(cls, value: Any) -> Any:
        return _listed(value)


class StatusReferences(_Daraja):
    ReferenceItem: list[StatusParameter] = Field(default_factory=list)

    @field_validator("ReferenceItem", mode="before")
    @classmethod
    def _items(cls, value: Any) -> Any:
        return _listed(value)


_PARTY = re.compile(r"^\s*(?P<id>[^-]+?)\s*-\s*(?P<name>.*)$")


def _party(value: Any) -> tuple[str | None, str | None]:
    """`254708374149 - John Doe` (a customer) or `600310 - Shop Ltd` (an organisation)."""
    if value in (None, ""):
        return None, None
    match = _PARTY.match(str(value))
    if not match:
        return str(value).strip() or None, None
    return match.group("id").strip() or None, match.group("name").strip() or None


class StatusResult(_Daraja):
    """One Transaction Status answer; read without refusing: whatever it says is recorded."""

    ResultType: OptionalText = None
    ResultCode: OptionalText = None
    ResultDesc: OptionalText = None
    OriginatorConversationID: OptionalText = None
    ConversationID: OptionalText = None
    TransactionID: OptionalText = None
    ResultParameters: StatusParameters | None = None
    ReferenceData: StatusReferences | None = None

    def parameters(self) -> dict[str, Any]:
        items = self.ResultParameters.ResultParameter if self.ResultParameters else []
        found: dict[str, Any] = {}
        for item in items:
            if item.Value is not None:
                # Daraja's sample names the payer DebitPartyName twice: the first (the organisation,
                # for a payout) is kept under its own name, the second as the other party.
                name = item.Key if item.Key not in found else f"{item.Key}#2"
                found[name] = item.Value
        return found

    def asked_about(self) -> str | None:
        """The receipt number this answer is about: the one we sent as Occasion, else its ReceiptNo."""
        items = self.ReferenceData.ReferenceItem if self.ReferenceData else []
        occasion = next((i.Value for i in items if i.Key == "Occasion" and i.Value not in (None, "")), None)
        receipt = occasion or self.parameters().get("ReceiptNo")
        text = str(receipt).strip().upper() if receipt not in (None, "") else ""
        return text if text and len(text) <= 64 and text.isprintable() else None

    def key(self) -> str:
        return (
            self.asked_about() or f"status:{hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]}"
        )

    @property
    def transaction_status(self) -> str | None:
        value = self.parameters().get("TransactionStatus")
        return str(value).strip() if value not in (None, "") else None

    @property
    def refused(self) -> str | None:
        """Why M-Pesa did not do the query at all (QUERY_REFUSED), if it did not."""
        return QUERY_REFUSED.get((self.ResultCode or "").strip())

    @property
    def completed(self) -> bool:
        return (self.ResultCode or "").strip() == "0" and (
            self.transaction_status or ""
        ).lower() == "completed"

    def payer(self) -> tuple[str | None, str | None]:
        """The customer who paid: the debit party whose id is not an organisation's short code."""
        params = self.parameters()
        for name in ("DebitPartyName#2", "DebitPartyName"):
            party, person = _party(params.get(name))
            digits = (party or "").replace("*", "").replace(" ", "")
            if party and (len(digits) >= 9 or len(party) == 64):  # a phone number, masked or hashed
                return party, person
        return None, None

    def payment(self) -> Payment:
        """The C2B payment this answer proves; InvalidPayment when it proves none (not completed,
        no customer paid, or a figure that cannot make a receipt)."""
        key = self.key()
        if not self.completed:
            raise InvalidPayment(
                key,
                f"M-Pesa says: {self.ResultCode} {self.transaction_status or self.ResultDesc or ''}".strip(),
            )
        phone, name = self.payer()
        if phone is None:
            raise InvalidPayment(key, "the transaction is not a customer's payment (no customer debited)")
        params = self.parameters()
        short_code, _ = _party(params.get("CreditPartyName"))
        try:
            return Payment(
                reference=params.get("ReceiptNo") or self.asked_about(),
                amount=params.get("Amount"),
                phone=phone,
                name=person_name(name),
                paid_at=params.get("FinalisedTime") or params.get("InitiatedTime"),
                source=PaymentSource.STATUS_QUERY,
                short_code=short_code,
            )
        except ValidationError as exc:
            names = {
                "reference": "ReceiptNo",
                "amount": "Amount",
                "paid_at": "FinalisedTime",
                "phone": "DebitPartyName",
            }
            raise InvalidPayment(
                key, f"Transaction Status answer cannot make a receipt: {summarize(exc, 3, names)}"
            ) from None


class StatusResultCallback(_Daraja):
    Result: StatusResult = Field(default_factory=StatusResult)


class PullNotice(_Daraja):
    """Whatever Pull Transactions posts to its CallBackURL: acknowledged, its field names logged."""
