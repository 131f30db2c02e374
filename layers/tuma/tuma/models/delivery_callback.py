"""The provider's delivery-report callback, as the webhooks function reads it.

Apart from the answers of the API calls (tuma.models.provider_answers) because the webhooks function needs
this model alone, and every cold start of it would otherwise build those too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

from tuma.formatting.clock import parse_time
from tuma.models.validation import IdText, as_text


def _short_text(value: Any) -> str | None:
    text = as_text(value)
    return text[:32] if isinstance(text, str) and text else None


class DeliveryCallback(BaseModel):
    """The provider's delivery-report callback. Unsigned: treat every field as untrusted."""

    # Built at the first report, not at each cold start of the webhooks function, whose other routes
    # never read one (see mpesa._Daraja).
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)

    # Kept whatever its length: a report Tuma cannot read must not be refused (the provider would
    # retry it forever); it is shortened where it is stored.
    description: str = Field(min_length=1, max_length=2000)
    message_id: IdText = Field(
        validation_alias=AliasChoices("messageid", "messageId", "message-id"),
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_\-]+$",
    )
    # Kept for the record only: whatever it carries is read as short text, never refused.
    time_taken: Annotated[str | None, BeforeValidator(_short_text), WithJsonSchema({})] = Field(
        default=None, validation_alias=AliasChoices("timeTaken", "time_taken")
    )
    timestamp: Annotated[
        datetime | None,
        WithJsonSchema(
            {
                "description": "when it was delivered: ISO-8601, the provider's own forms, or unix seconds; "
                "a value Tuma cannot read as a time is ignored, never refused"
            }
        ),
    ] = None

    @field_validator("timestamp", mode="before")
    @classmethod
    def _eat(cls, value: Any) -> Any:
        # A time Tuma cannot read is left out, not refused: the report itself still counts.
        try:
            return parse_time(value) if value not in (None, "") else None
        except ValueError:
            return None
