"""The settings of functions/payment_stream."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from tuma.runtime.settings import (
    CustomerSettings,
    LedgerSettings,
    MessageSettings,
    OutboxSettings,
    PaymentSettings,
)

if TYPE_CHECKING:
    from tuma.services.payment_stream import Attributes


class StreamSettings(OutboxSettings, LedgerSettings, CustomerSettings, PaymentSettings, MessageSettings):
    """functions/payment_stream"""

    # {"status": "state", "reference": "mpesa_ref", ...}: a team's own attribute names.
    PAYMENTS_ATTRIBUTES: dict[str, str] = Field(default_factory=dict)
    PAYMENTS_COMPLETED_STATUS: str = "COMPLETED"

    @field_validator("PAYMENTS_ATTRIBUTES", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("not JSON") from None
        return value

    @field_validator("PAYMENTS_ATTRIBUTES", mode="after")
    @classmethod
    def _mappable(cls, value: dict[str, str]) -> dict[str, str]:
        from tuma.services.payment_stream import Attributes

        Attributes.mapped(value)  # unknown names fail the cold start, not the first payment
        return value

    def attributes(self) -> Attributes:
        from tuma.services.payment_stream import Attributes

        return Attributes.mapped(self.PAYMENTS_ATTRIBUTES, self.PAYMENTS_COMPLETED_STATUS)
