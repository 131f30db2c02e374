"""What the webhook routes answer, as the OpenAPI document describes it (tuma.runtime.routes).

Read only when the document is generated (scripts/openapi.py): the handlers build these answers as
plain dicts, so nothing here is imported at a cold start. Routes name their answers by class name.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class Problem(_Answer):
    """A refusal: what was wrong, in words."""

    error: str


class FieldProblem(BaseModel):
    field: str = Field(description="the field, dotted (`data.amount`), or `body`")
    problem: str


class InvalidRequest(_Answer):
    """The body or the query does not fit the route: each field named with its problem."""

    error: Literal["invalid request"]
    fields: list[FieldProblem]


class Queued(_Answer):
    """Accepted: queued for sending, or recorded as not sent with the reason (a duplicate, a refusal)."""

    status: Literal["queued", "not sent"]
    idempotency_key: str
    reason: str | None = None


class DarajaAck(_Answer):
    """What Daraja expects back, always: it must not retry a callback Tuma has recorded."""

    ResultCode: int | str
    ResultDesc: str


class ReportResult(_Answer):
    result: Literal["applied", "stale", "unknown"]


class MessageStory(_Answer):
    """Every recipient of a message: masked number, status, reason, times."""

    idempotency_key: str
    recipients: list[dict[str, Any]]
    status: Literal["ACCEPTED"] | None = Field(
        default=None,
        description=(
            "ACCEPTED: the API took the message a moment ago and the sender has not yet written its "
            "recipients (`recipients` is empty until then); null once they are there"
        ),
    )
    accepted_at: str | None = Field(default=None, description="when the API took it (with ACCEPTED)")
    payment_confirmation: Literal["CONFIRMED", "UNCONFIRMED"] | None = Field(
        default=None,
        description=(
            "for a receipt: whether M-Pesa's own record has the payment (UNCONFIRMED: a callback "
            "reported it, the pull found nothing; null: not known either way, or not a payment)"
        ),
    )


class Cancelled(_Answer):
    idempotency_key: str
    result: Literal["cancelled", "not scheduled", "already sent"]


class Suppressed(_Answer):
    number: str = Field(description="masked")
    scope: Literal["promotional", "all"]
    added: bool = Field(description="false: the number was already suppressed for that scope")


class Unsuppressed(_Answer):
    number: str = Field(description="masked")
    removed: list[Literal["promotional", "all"]]


class Consented(_Answer):
    number: str = Field(description="masked")
    source: str
    consented: Literal[True]


class Withdrawn(_Answer):
    number: str = Field(description="masked")
    withdrawn: bool = Field(description="false: no consent was on record")
