"""The payments table's stream: a payment that becomes COMPLETED yields one receipt, nothing else does.

Teams with an existing table map their own attribute names (PAYMENTS_ATTRIBUTES, JSON) and their own
completed status (PAYMENTS_COMPLETED_STATUS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from pydantic import ValidationError

from tuma.models.payments import Payment
from tuma.models.validation import summarize


class InvalidPayment(ValueError):
    """A completed payment whose item cannot make a receipt (missing reference, bad amount...)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class Attributes:
    payment_id: str = "payment_id"
    status: str = "status"
    amount: str = "amount"
    currency: str = "currency"
    phone: str = "phone"
    name: str = "name"
    account: str = "account"
    reference: str = "reference"
    paid_at: str = "paid_at"
    completed: str = "COMPLETED"

    @classmethod
    def mapped(cls, names: Mapping[str, Any] | None = None, completed: str | None = None) -> Attributes:
        """Defaults, with a team's own attribute names and completed status; ValueError for unknown fields."""
        attributes = cls()
        if names:
            known = {f.name for f in fields(cls)} - {"completed"}
            if not set(names) <= known:
                raise ValueError(f"only {', '.join(sorted(known))} can be mapped")
            attributes = replace(attributes, **{k: str(v) for k, v in names.items()})
        if completed:
            attributes = replace(attributes, completed=completed)
        return attributes


def completed_payment(
    event_name: str | None,
    old_image: Mapping[str, Any] | None,
    new_image: Mapping[str, Any] | None,
    attributes: Attributes,
) -> Payment | None:
    """The payment that this change completed, or None when the change completes nothing."""
    if event_name not in ("INSERT", "MODIFY") or not new_image:
        return None  # REMOVE, TTL deletions
    if str(new_image.get(attributes.status, "")) != attributes.completed:
        return None
    if (
        event_name == "MODIFY"
        and old_image
        and str(old_image.get(attributes.status, "")) == attributes.completed
    ):
        return None  # already completed before this change: its receipt is already out
    reference = new_image.get(attributes.reference)
    key = str(reference) if reference else f"payment:{new_image.get(attributes.payment_id, '?')}"
    try:
        return Payment(
            reference=reference,
            amount=new_image.get(attributes.amount),
            currency=str(new_image.get(attributes.currency) or "KES"),
            phone=new_image.get(attributes.phone),
            name=new_image.get(attributes.name),
            account=new_image.get(attributes.account),
            paid_at=new_image.get(attributes.paid_at),
            source="payments-table",
        )
    except ValidationError as exc:
        raise InvalidPayment(key, f"completed payment cannot make a receipt: {summarize(exc, 3)}") from None
