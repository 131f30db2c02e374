"""The payments table's stream: a payment that becomes COMPLETED yields one receipt, nothing else does.

Teams with an existing table map their own attribute names (PAYMENTS_ATTRIBUTES, JSON) and their own
completed status (PAYMENTS_COMPLETED_STATUS).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from pydantic import ValidationError

from tuma.config import ConfigurationError
from tuma.payments import Payment


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
    def from_env(cls, env: Mapping[str, str] | None = None) -> Attributes:
        env = os.environ if env is None else env
        attributes = cls()
        raw = env.get("PAYMENTS_ATTRIBUTES", "").strip()
        if raw:
            try:
                mapping = json.loads(raw)
            except ValueError:
                raise ConfigurationError("PAYMENTS_ATTRIBUTES is not JSON") from None
            known = {f.name for f in fields(cls)} - {"completed"}
            if not isinstance(mapping, dict) or not set(mapping) <= known:
                raise ConfigurationError(f"PAYMENTS_ATTRIBUTES maps only {', '.join(sorted(known))}")
            attributes = replace(attributes, **{k: str(v) for k, v in mapping.items()})
        if env.get("PAYMENTS_COMPLETED_STATUS"):
            attributes = replace(attributes, completed=env["PAYMENTS_COMPLETED_STATUS"])
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
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        raise InvalidPayment(key, f"completed payment cannot make a receipt: {problems}") from None
