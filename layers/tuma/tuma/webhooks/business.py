"""The business's own systems, signed: payments (receipts), alerts, and a message's story or its
cancellation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import unquote

# Response is read when the OpenAPI document evaluates the handlers' annotations (context loads it anyway).
from aws_lambda_powertools.event_handler import Response

from tuma.models.alerts import AlertRequest
from tuma.models.ledger import CancelOutcome
from tuma.models.payments import PaymentRequest
from tuma.runtime.routes import Auth, Routes
from tuma.services.lookup import story
from tuma.webhooks.context import reply

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.params import Body

    from tuma.webhooks.context import WebhookContext

CANCEL_ANSWERS = {
    200: ("cancelled", "Cancelled"),
    404: ("no scheduled message under that key", "Cancelled"),
    409: ("already released to the sender, or cancelled before", "Cancelled"),
}
CANCEL_STATUS = {
    CancelOutcome.CANCELLED: 200,
    CancelOutcome.NOT_SCHEDULED: 404,
    CancelOutcome.ALREADY_GONE: 409,
}


def declare(routes: Routes, context: WebhookContext) -> None:
    @routes.add(
        "post",
        "/payments",
        auth=Auth.SIGNATURE,
        body=PaymentRequest,
        answers={202: ("queued for its receipt, or recorded as not sent with the reason", "Queued")},
        tags=["Signed"],
        summary="A payment from your own systems (HMAC signed)",
    )
    def payment(request: Annotated[PaymentRequest, Body()]) -> Response[dict[str, Any]]:
        outcome = context.intake.payment_request(request)
        context.counts.count(outcome.fate.value)
        return reply(202, outcome.answer())

    @routes.add(
        "post",
        "/alerts",
        auth=Auth.SIGNATURE,
        body=AlertRequest,
        answers={202: ("queued for the alert recipients, or not sent with the reason", "Queued")},
        tags=["Signed"],
        summary="An alert from monitoring (HMAC signed)",
    )
    def alert(request: Annotated[AlertRequest, Body()]) -> Response[dict[str, Any]]:
        return reply(202, context.intake.alert(request).answer())

    @routes.add(
        "get",
        "/messages/<key>",
        auth=Auth.SIGNATURE,
        answers={
            200: ("every recipient of the message", "MessageStory"),
            404: ("no message under that key", "Problem"),
        },
        tags=["Signed"],
        summary="Every recipient of a message: status, reason, times (HMAC signed)",
    )
    def message_story(key: str) -> Response[dict[str, Any]]:
        key = unquote(key)
        entries = context.ledger.get(key)
        if not entries:
            return reply(404, {"error": "no message under that key"})
        confirmation = context.ledger.payment_confirmation(key)
        body = {"idempotency_key": key, "recipients": story(entries)}
        return reply(200, body | {"payment_confirmation": confirmation.value if confirmation else None})

    @routes.add(
        "delete",
        "/messages/<key>",
        auth=Auth.SIGNATURE,
        answers=CANCEL_ANSWERS,
        tags=["Signed"],
        summary="Cancel a scheduled message (HMAC signed)",
    )
    def cancel_message(key: str) -> Response[dict[str, Any]]:
        key = unquote(key)
        outcome = context.agenda.cancel(key)
        return reply(CANCEL_STATUS[outcome], {"idempotency_key": key, "result": outcome.value})
