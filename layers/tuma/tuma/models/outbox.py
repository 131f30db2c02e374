"""The outbox message: the one public way for any service to ask Tuma to send (docs/design.md)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from tuma.formatting.clock import now_utc, parse_time
from tuma.models.kinds import FAST_KINDS, PER_EVENT_KINDS
from tuma.models.privacy import MessageCategory
from tuma.models.validation import LANGUAGE, NO_CONTROL_CHARS, TEMPLATE_NAME

# A message to more numbers than one provider call takes is sent in several calls (sendsms takes 1,000).
MAX_RECIPIENTS = 10_000
MAX_SCHEDULE_AHEAD = timedelta(days=35)

IdempotencyKey = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_CONTROL_CHARS),
]


def when_to_send(value: Any) -> Any:
    if value in (None, ""):
        return None
    moment = parse_time(value)
    if moment - now_utc() > MAX_SCHEDULE_AHEAD:
        raise ValueError("send_at is more than 35 days ahead")
    return moment


# ISO-8601 (East Africa Time when no zone is given), or unix seconds; at most 35 days ahead.
SEND_AT_SCHEMA = {
    "description": "when to send: ISO-8601 (East Africa Time when no zone is given) or unix seconds, "
    "at most 35 days ahead; past, absent or null: now",
    "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "null"}],
}
SendAt = Annotated[datetime | None, BeforeValidator(when_to_send), WithJsonSchema(SEND_AT_SCHEMA)]


# The packaged templates are named after their kinds (tuma.models.kinds says which are waited for).
FAST_TEMPLATES = FAST_KINDS


class Route(StrEnum):
    SMS = "sms"
    OTP = "otp"


class OutboxMessage(BaseModel):
    """Either a ready `text` or a `template` with `data`; `idempotency_key` names the business event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    idempotency_key: IdempotencyKey
    to: tuple[str, ...] = ()
    template: str | None = Field(default=None, pattern=TEMPLATE_NAME.pattern)
    data: dict[str, Any] = Field(default_factory=dict)
    language: str = Field(default="en", pattern=LANGUAGE.pattern)
    text: str | None = Field(default=None, min_length=1, max_length=2000)
    route: Route = Route.SMS
    source: str | None = Field(default=None, max_length=64)
    # "recipient": one SMS per (key, recipient), the default. "event": one SMS for the key, whoever it
    # goes to: a payment reported by several sources with the payer's number written differently
    # (plain, hashed, another number) still gets one receipt. Receipts default to "event".
    dedupe: Literal["recipient", "event"] | None = None
    # Send later (a reminder: "fees due Friday"): ISO-8601, East Africa Time when no zone is given;
    # up to 35 days ahead. Past, or within a few seconds, means now.
    send_at: SendAt = None
    # transactional (receipts, codes, alerts) or promotional (consent, the opt-out footer, the
    # sending window, the promotional sender ID). None: the template kind's; a text is transactional.
    category: MessageCategory | None = None
    # Tuma's own: the summary of an alert storm (tuma.services.guards), filled in when it is sent.
    summary_of: str | None = Field(default=None, pattern=r"^collapse#[0-9a-f]{32}$")

    @field_validator("to", mode="before")
    @classmethod
    def _recipients(cls, value: Any) -> Any:
        # A single number, a comma-separated string, numbers as JSON integers: all seen from producers.
        if value is None:
            return ()
        if isinstance(value, str | int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list | tuple):
            raise ValueError("to must be a list of numbers")
        out = [number for item in value for number in _numbers(item)]
        if len(out) > MAX_RECIPIENTS:
            raise ValueError(f"at most {MAX_RECIPIENTS} recipients per message")
        return tuple(out)

    @model_validator(mode="after")
    def _one_body(self) -> OutboxMessage:
        if (self.template is None) == (self.text is None):
            raise ValueError("give exactly one of text or template")
        return self

    @property
    def fast(self) -> bool:
        """Someone is waiting for this one (a payer for a receipt, a user for a code, an engineer
        for an alert): it takes the outbox's fast lane, which sends without a batching window."""
        return self.route is Route.OTP or self.template in FAST_TEMPLATES

    @property
    def per_event(self) -> bool:
        return self.dedupe == "event" or (self.dedupe is None and self.template in PER_EVENT_KINDS)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_defaults=True), separators=(",", ":"))


def key_of(body: str) -> str | None:
    """The idempotency key of a body that may be otherwise invalid, so its rejection can be recorded."""
    try:
        parsed = json.loads(body)
    except (ValueError, TypeError):
        return None
    if isinstance(parsed, dict):
        key = parsed.get("idempotency_key")
        if isinstance(key, str) and 0 < len(key.strip()) <= 200:
            return key.strip()
    return None


def _numbers(item: Any) -> list[str]:
    """The numbers one item of `to` holds (a comma-separated string may hold several)."""
    if isinstance(item, bool) or not isinstance(item, str | int):
        raise ValueError("every recipient must be a string or a number")
    return [part.strip() for part in str(item).split(",") if part.strip()]
