"""Webhooks: Daraja C2B and STK callbacks, signed payments and alerts, the provider's delivery reports.

Every request passes the gate first (a declared route, its path token or signature, size, base64,
JSON), then each route validates the body against its model (tuma.runtime.routes: Powertools
routes, pydantic validates).
A receipt is acknowledged only once it is queued.
"""

from __future__ import annotations

import gc

# Everything init builds lives as long as the process, so the collections that run during the
# imports find no garbage; they cost about a tenth of the cold start (bench/cold_start.py).
# Back on at the end of the module, with init's objects frozen out of later collections.
gc.disable()

from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import unquote

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from tuma.errors import ConfigurationError
from tuma.models.alerts import AlertRequest
from tuma.models.delivery_callback import DeliveryCallback
from tuma.models.ledger import CancelOutcome, ReportOutcome, Status
from tuma.models.mpesa import CONFIRMED, C2BConfirmation, C2BValidation, StatusResultCallback, StkCallback
from tuma.models.payments import InvalidPayment, PaymentRequest
from tuma.models.privacy import SuppressionSource
from tuma.models.privacy_requests import (
    ConsentRequest,
    ConsentWithdrawal,
    SuppressionRemoval,
    SuppressionRequest,
)
from tuma.models.sources import PaymentSource
from tuma.runtime import wiring
from tuma.runtime.observability import CountingMetrics, build_logger
from tuma.runtime.routes import Auth, InvalidRequest, Routes
from tuma.runtime.settings import load
from tuma.runtime.settings.webhooks import WebhookSettings
from tuma.runtime.webhook_gate import WebhookGate
from tuma.services.delivery_reports import update_for
from tuma.services.intake import PaymentRefused
from tuma.services.lookup import story

if TYPE_CHECKING:
    # Read by the OpenAPI document only (openapi_json), never at a cold start.
    from aws_lambda_powertools.event_handler.openapi.params import Body, Query
    from tuma.adapters.dynamodb_agenda import DynamoDBAgenda
    from tuma.services.privacy import Person, Privacy

logger = build_logger()
metrics = Metrics()
settings = load(WebhookSettings)
counts = CountingMetrics(metrics, settings.METRICS)
intake = wiring.intake(settings)
ledger_client = wiring.dynamodb()
ledger = wiring.ledger(settings, ledger_client)
app = APIGatewayRestResolver()
# Every route below declares how its caller authenticates; the gate reads that, and answers 404 for
# any path not declared here before a handler runs.
routes = Routes(app)
gate = WebhookGate(routes, wiring.webhook_secrets(settings), max_body=settings.WEBHOOK_MAX_BODY_BYTES)
JSON = content_types.APPLICATION_JSON


# Daraja's callbacks are acknowledged whatever they carry, so that Safaricom does not retry: a body that
# cannot make a receipt is recorded (REJECTED in the ledger, with the reason), never refused with a 4xx.
ACKNOWLEDGED = {200: ("acknowledged, whatever the body: what cannot make a receipt is recorded", "DarajaAck")}
CANCEL_ANSWERS = {
    200: ("cancelled", "Cancelled"),
    404: ("no scheduled message under that key", "Cancelled"),
    409: ("already released to the sender, or cancelled before", "Cancelled"),
}


def _json(status: int, body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type=JSON, body=body)


@cache
def agenda() -> DynamoDBAgenda:
    """Scheduled messages, for the cancel route: built when first needed."""
    return wiring.agenda(settings, ledger_client)


@cache
def optional_privacy() -> Privacy | None:
    """The suppression list and consent record, built when first needed: most requests never do."""
    return wiring.privacy(settings)


def privacy() -> Privacy:
    found = optional_privacy()
    if found is None:
        raise ConfigurationError("the stack has no privacy table (PRIVACY_TABLE, PRIVACY_SECRET)")
    return found


class InvalidNumberField(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _person(number: str) -> Person:
    from tuma.services.privacy import InvalidEntry

    try:
        return privacy().person(number)
    except InvalidEntry as exc:
        raise InvalidNumberField(exc.field, exc.reason) from None


@routes.add(
    "post",
    "/payments/c2b/validation/<token>",
    auth=Auth.PATH_TOKEN,
    body=C2BValidation,
    answers={200: ("accepted or rejected, in Daraja's words", "DarajaAck")},
    lenient=True,
    tags=["Daraja"],
    summary="C2B validation: accept or reject",
)
def c2b_validation(token: str, request: Annotated[C2BValidation, Body()]) -> dict[str, str]:
    return intake.c2b_validation(request)


@routes.add(
    "post",
    "/payments/c2b/confirmation/<token>",
    auth=Auth.PATH_TOKEN,
    body=C2BConfirmation,
    answers=ACKNOWLEDGED,
    lenient=True,
    tags=["Daraja"],
    summary="C2B confirmation: queue the receipt",
)
def c2b_confirmation(token: str, request: Annotated[C2BConfirmation, Body()]) -> dict[str, Any]:
    # Daraja is always acknowledged: what cannot make a receipt is recorded with its reason instead.
    try:
        outcome = intake.receipt(request.payment())
    except InvalidPayment as problem:
        outcome = intake.invalid(problem, PaymentSource.C2B)
    counts.count(outcome.fate.value)
    return CONFIRMED


@routes.add(
    "post",
    "/payments/stk/<token>",
    auth=Auth.PATH_TOKEN,
    body=StkCallback,
    answers=ACKNOWLEDGED,
    lenient=True,
    tags=["Daraja"],
    summary="STK Push result: queue the receipt of a payment",
)
def stk_callback(token: str, callback: Annotated[StkCallback, Body()]) -> dict[str, Any]:
    outcome = intake.stk_callback(callback)
    counts.count(outcome.fate.value)
    return CONFIRMED


@routes.add(
    "post",
    "/payments/status-results/<token>",
    auth=Auth.PATH_TOKEN,
    body=StatusResultCallback,
    answers=ACKNOWLEDGED,
    lenient=True,
    tags=["Daraja"],
    summary="Transaction Status result: a payment Tuma never saw gets its receipt",
)
def status_result(token: str, callback: Annotated[StatusResultCallback, Body()]) -> dict[str, Any]:
    # The answer to `tuma daraja status` (or the console's "ask M-Pesa"), posted later by Daraja.
    outcome = intake.status_result(callback.Result)
    counts.count(outcome.fate.value)
    return CONFIRMED


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
    from pydantic import ValidationError

    try:
        # The request's fields read as a payment (paid_at as a time): a value only that reading
        # refuses is a 422 naming its field, as the request's own validation answers.
        paid = request.payment()
    except ValidationError as exc:
        raise InvalidRequest(
            [{"loc": ("body", *e["loc"]), "msg": e["msg"]} for e in exc.errors(include_url=False)]
        ) from None
    try:
        outcome = intake.receipt(paid, answerable=True)
    except PaymentRefused as refused:
        return _json(
            422, {"error": "invalid request", "fields": [{"field": refused.field, "problem": refused.reason}]}
        )
    counts.count(outcome.fate.value)
    return _json(202, outcome.answer())


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
    return _json(202, intake.alert(request).answer())


@routes.add(
    "post",
    "/delivery-reports/<token>",
    auth=Auth.PATH_TOKEN,
    body=DeliveryCallback,
    query={"provider": ("primary", "secondary")},
    answers={200: ("recorded; `unknown` when no message carries its id (not retried)", "ReportResult")},
    tags=["Provider"],
    summary="The provider's delivery-report callback",
)
def delivery_report(
    token: str,
    report: Annotated[DeliveryCallback, Body()],
    # The secondary brand's portal calls back with ?provider=secondary: message ids are per provider.
    provider: Annotated[Literal["primary", "secondary"], Query()] = "primary",
) -> dict[str, str]:
    update = update_for(report, provider)
    result = ledger.apply_delivery(update)
    # The number blocked this sender or all promotions: no more promotions go to it.
    if (
        update.opted_out
        and result is ReportOutcome.APPLIED
        and (found := optional_privacy()) is not None
        and found.opted_out(
            ledger.recipients_of(update.provider_message_id, provider), update.delivery_status
        )
    ):
        counts.count("NumbersOptedOut")
    if result is ReportOutcome.UNKNOWN:
        # Answered 200 all the same: the provider would otherwise retry a report we can never match.
        logger.warning("delivery report for unknown message %s", update.provider_message_id)
    counts.count(result.value)
    if result is ReportOutcome.APPLIED and update.final:
        counts.count("DeliveryReportsByCallback")  # beside ...ByPolling: is the portal's callback set?
    if result is ReportOutcome.APPLIED:
        # The delivery-failure-rate alarm divides these two.
        if update.status is Status.DELIVERED:
            counts.count("DeliveriesDelivered")
        elif update.status is Status.FAILED:
            counts.count("DeliveriesFailed")
    return {"result": result.answer}


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
    entries = ledger.get(key)
    if not entries:
        return _json(404, {"error": "no message under that key"})
    return _json(200, {"idempotency_key": key, "recipients": story(entries)})


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
    outcome = agenda().cancel(key)
    status = {CancelOutcome.CANCELLED: 200, CancelOutcome.NOT_SCHEDULED: 404, CancelOutcome.ALREADY_GONE: 409}
    return _json(status[outcome], {"idempotency_key": key, "result": outcome.value})


@routes.add(
    "post",
    "/suppressions",
    auth=Auth.SIGNATURE,
    body=SuppressionRequest,
    answers={201: ("added", "Suppressed"), 200: ("already suppressed for that scope", "Suppressed")},
    tags=["Privacy"],
    summary="Stop messages to a number: promotions only, or all (HMAC signed)",
)
def suppress(request: Annotated[SuppressionRequest, Body()]) -> Response[dict[str, Any]]:
    person = _person(request.number)
    added = privacy().suppress(person, request.scope, request.reason, SuppressionSource.API)
    logger.info(
        "suppression %s for %s (%s)", "added" if added else "already there", person.masked, request.scope
    )
    return _json(
        201 if added else 200, {"number": person.masked, "scope": request.scope.value, "added": added}
    )


@routes.add(
    "post",
    "/suppressions/remove",
    auth=Auth.SIGNATURE,
    body=SuppressionRemoval,
    answers={200: ("removed (`removed` is empty when the number was not suppressed)", "Unsuppressed")},
    tags=["Privacy"],
    summary="Send to a number again: one scope, or every scope (HMAC signed)",
)
def unsuppress(request: Annotated[SuppressionRemoval, Body()]) -> Response[dict[str, Any]]:
    person = _person(request.number)
    removed = privacy().unsuppress(person, request.scope)
    logger.info("suppression removed for %s: %s", person.masked, ", ".join(removed) or "none was there")
    return _json(200, {"number": person.masked, "removed": [scope.value for scope in removed]})


@routes.add(
    "post",
    "/consents",
    auth=Auth.SIGNATURE,
    body=ConsentRequest,
    answers={201: ("recorded", "Consented")},
    tags=["Privacy"],
    summary="Record a customer's consent to promotional messages (HMAC signed)",
)
def consent(request: Annotated[ConsentRequest, Body()]) -> Response[dict[str, Any]]:
    person = _person(request.number)
    privacy().consent(person, request.source, request.wording, request.at)
    logger.info("consent recorded for %s (%s)", person.masked, request.source)
    return _json(201, {"number": person.masked, "source": request.source, "consented": True})


@routes.add(
    "post",
    "/consents/withdraw",
    auth=Auth.SIGNATURE,
    body=ConsentWithdrawal,
    answers={200: ("withdrawn, or there was none", "Withdrawn")},
    tags=["Privacy"],
    summary="Withdraw a customer's consent to promotional messages (HMAC signed)",
)
def withdraw(request: Annotated[ConsentWithdrawal, Body()]) -> Response[dict[str, Any]]:
    person = _person(request.number)
    withdrawn = privacy().withdraw(person)
    logger.info("consent withdrawn for %s: %s", person.masked, withdrawn)
    return _json(200, {"number": person.masked, "withdrawn": withdrawn})


@app.exception_handler(InvalidNumberField)  # type: ignore[untyped-decorator]
def invalid_number(error: InvalidNumberField) -> Response[dict[str, Any]]:
    return _json(
        422, {"error": "invalid request", "fields": [{"field": error.field, "problem": error.reason}]}
    )


@app.exception_handler(InvalidRequest)  # type: ignore[untyped-decorator]
def invalid_request(error: InvalidRequest) -> Response[dict[str, Any]]:
    fields = [
        {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "problem": e["msg"]}
        for e in error.errors[:20]
    ]
    return _json(422, {"error": "invalid request", "fields": fields})


@app.exception_handler([ClientError, BotoCoreError])  # type: ignore[untyped-decorator]
def storage_unavailable(error: Exception) -> Response[dict[str, Any]]:
    logger.exception("could not record the request")
    return _json(503, {"error": "temporarily unable to record the request; retry"})


@app.exception_handler(ConfigurationError)  # type: ignore[untyped-decorator]
def misconfigured(error: ConfigurationError) -> Response[dict[str, Any]]:
    logger.error("configuration error: %s", error)
    return _json(500, {"error": "service misconfigured"})


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        rejection = gate.check(event)
    except ConfigurationError as error:
        logger.error("configuration error: %s", error)
        return {
            "statusCode": 500,
            "headers": {"Content-Type": JSON},
            "body": '{"error": "service misconfigured"}',
        }
    if rejection is not None:
        counts.count(f"WebhookRejected{rejection.status}")
        return rejection.response()
    return app.resolve(event, context)


def openapi_json(title: str = "Tuma webhooks", version: str = "1") -> str:
    """The published contract of these routes (docs/openapi.json; scripts/openapi.py writes it)."""
    return routes.openapi_json(title, version, globals())


gc.freeze()
gc.enable()
