"""The provider's delivery-report callback, as the webhooks function reads it.

Apart from the answers of the API calls (tuma.provider.answers) because the webhooks function needs
this model alone, and every cold start of it would otherwise build those too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from tuma.formatting.clock import parse_time
from tuma.models.validation import AsText


class DeliveryCallback(BaseModel):
    """The provider's delivery-report callback. Unsigned: treat every field as untrusted."""

    # Built at the first report, not at each cold start of the webhooks function, whose other routes
    # never read one (see mpesa._Daraja).
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)

    # Kept whatever its length: a report Tuma cannot read must not be refused (the provider would
    # retry it forever); it is shortened where it is stored.
    description: str = Field(min_length=1, max_length=2000)
    message_id: AsText = Field(
        validation_alias=AliasChoices("messageid", "messageId", "message-id"),
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_\-]+$",
    )
    time_taken: AsText | None = Field(
        default=None, validation_alias=AliasChoices("timeTaken", "time_taken"), max_length=32
    )
    timestamp: datetime | None = None

    @field_validator("timestamp", mode="before")
    @classmethod
    def _eat(cls, value: Any) -> Any:
        return parse_time(value) if value not in (None, "") else None
