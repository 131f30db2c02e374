"""The payments table's stream: a payment that becomes COMPLETED yields one receipt, nothing else does.

Teams with an existing table map their own attribute names (PAYMENTS_ATTRIBUTES, JSON) and their own
completed status (PAYMENTS_COMPLETED_STATUS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from pydantic import ValidationError

from tuma.models.payments import InvalidPayment, Payment
from tuma.models.sources import PaymentSource
from tuma.models.validation import summarize


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
    keys: Mapping[str, Any] | None = None,
) -> Payment | None:
    """The payment that this change completed, None when the change completes nothing, and
    InvalidPayment when it completes a payment that cannot make a receipt."""
    if event_name == "REMOVE":
        return None  # deletions and TTL expiries
    if not new_image:  # absent (a KEYS_ONLY stream): Powertools reads it as an empty image
        if event_name in ("INSERT", "MODIFY"):
            raise InvalidPayment(
                _key(None, keys or {}, attributes),
                "the stream carries no item image: set the table's StreamViewType to NEW_AND_OLD_IMAGES",
            )
        return None
    if not _completes(event_name, old_image, new_image, attributes):
        return None
    key = _key(new_image, keys or {}, attributes)
    if event_name not in ("INSERT", "MODIFY"):
        raise InvalidPayment(key, f"unknown stream event {str(event_name)[:20]!r} for a completed payment")
    try:
        return Payment(
            reference=new_image.get(attributes.reference),
            amount=new_image.get(attributes.amount),
            currency=new_image.get(attributes.currency) or "KES",
            phone=new_image.get(attributes.phone),
            name=new_image.get(attributes.name),
            account=new_image.get(attributes.account),
            paid_at=new_image.get(attributes.paid_at),
            source=PaymentSource.PAYMENTS_TABLE,
        )
    except ValidationError as exc:
        raise InvalidPayment(key, f"completed payment cannot make a receipt: {summarize(exc, 3)}") from None


def _completes(
    event_name: str | None,
    old_image: Mapping[str, Any] | None,
    new_image: Mapping[str, Any],
    attributes: Attributes,
) -> bool:
    """The change leaves the payment completed, and it was not completed before it (a payment
    already completed has its receipt out)."""
    if str(new_image.get(attributes.status, "")) != attributes.completed:
        return False
    was_completed = (
        old_image is not None and str(old_image.get(attributes.status, "")) == attributes.completed
    )
    return not (event_name == "MODIFY" and was_completed)


def _key(image: Mapping[str, Any] | None, keys: Mapping[str, Any], attributes: Attributes) -> str:
    """The payment's reference when it is usable text, else `payment:<its table key>`."""
    reference = image.get(attributes.reference) if image else None
    if isinstance(reference, str) and reference.strip() and reference.strip().isprintable():
        return reference.strip().upper()[:64]
    ident = (image or {}).get(attributes.payment_id, keys.get(attributes.payment_id, "?"))
    return f"payment:{str(ident)[:64]}"
