"""The business's own systems, signed: payments (receipts), alerts, and a message's story or its
cancellation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import unquote

# Response is read when the OpenAPI document evaluates the handlers' annotations (context loads it anyway).
from aws_lambda_powertools.event_handler import Response

from tuma.models.api_keys import Scope
from tuma.models.ledger import CancelOutcome
from tuma.runtime.routes import Auth, Routes
from tuma.services.lookup import story
from tuma.webhooks.context import reply

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.params import Body

    from tuma.models.alerts import AlertRequest
    from tuma.models.payments import PaymentRequest
    from tuma.services.intake import Outcome
    from tuma.webhooks.context import WebhookContext

CANCEL_ANSWERS = {
    200: ("cancelled (now, or before: cancelling again says so again)", "Cancelled"),
    404: ("no scheduled message under that key", "Cancelled"),
    409: ("already released to the sender: too late to cancel", "Cancelled"),
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
        scope=Scope.PAYMENTS,
        body="tuma.models.payments:PaymentRequest",
        answers={202: ("queued for its receipt, or recorded as not sent with the reason", "Queued")},
        tags=["Signed"],
        summary="A payment from your own systems",
    )
    def payment(request: Annotated[PaymentRequest, Body()]) -> Response[dict[str, Any]]:
        outcome = context.intake.payment_request(request)
        context.counts.count(outcome.fate.value)
        return accepted(outcome)

    @routes.add(
        "post",
        "/alerts",
        auth=Auth.SIGNATURE,
        scope=Scope.ALERTS,
        body="tuma.models.alerts:AlertRequest",
        answers={202: ("queued for the alert recipients, or not sent with the reason", "Queued")},
        tags=["Signed"],
        summary="An alert from monitoring",
    )
    def alert(request: Annotated[AlertRequest, Body()]) -> Response[dict[str, Any]]:
        return accepted(context.intake.alert(request))

    def accepted(outcome: Outcome) -> Response[dict[str, Any]]:
        """202; a queued message is on record at once, so that asking about it finds it."""
        if outcome.queued:
            context.ledger.note_accepted(outcome.idempotency_key)
        return reply(202, outcome.answer())

    @routes.add(
        "get",
        "/messages/<key>",
        auth=Auth.SIGNATURE,
        scope=Scope.MESSAGES_READ,
        answers={
            200: ("every recipient of the message", "MessageStory"),
            404: ("no message under that key", "Problem"),
        },
        tags=["Signed"],
        summary="Every recipient of a message: status, reason, times",
    )
    def message_story(key: str) -> Response[dict[str, Any]]:
        key = unquote(key)
        entries = context.ledger.get(key)
        if not entries:
            at = context.ledger.accepted_at(key)
            if at is None:
                return reply(404, {"error": "no message under that key"})
            # Taken by the API, not yet planned by the sender (its recipients' entries come next).
            return reply(
                200, {"idempotency_key": key, "recipients": [], "status": "ACCEPTED", "accepted_at": at}
            )
        confirmation = context.ledger.payment_confirmation(key)
        body = {"idempotency_key": key, "recipients": story(entries)}
        return reply(200, body | {"payment_confirmation": confirmation.value if confirmation else None})

    @routes.add(
        "delete",
        "/messages/<key>",
        auth=Auth.SIGNATURE,
        scope=Scope.MESSAGES_CANCEL,
        answers=CANCEL_ANSWERS,
        tags=["Signed"],
        summary="Cancel a scheduled message",
    )
    def cancel_message(key: str) -> Response[dict[str, Any]]:
        key = unquote(key)
        outcome = context.agenda.cancel(key)
        return reply(CANCEL_STATUS[outcome], {"idempotency_key": key, "result": outcome.value})
