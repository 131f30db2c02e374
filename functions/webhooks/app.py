"""Webhooks: Daraja's callbacks, the provider's delivery reports, and the business's signed requests.

Every request passes the gate first (a declared route, its path token or signature, size, base64,
JSON), then its route validates the body against its model and calls one service. The routes are
declared by caller in `tuma.webhooks` (daraja, provider, business, privacy); this module builds them
and answers what the services refuse.
"""

from __future__ import annotations

import gc

# Everything init builds lives as long as the process, so the collections that run during the
# imports find no garbage; they cost about a tenth of the cold start (bench/cold_start.py).
# Back on at the end of the module, with init's objects frozen out of later collections.
gc.disable()

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from tuma.errors import ConfigurationError, InvalidInput, Unavailable
from tuma.runtime import wiring
from tuma.runtime.observability import CountingMetrics, build_logger
from tuma.runtime.routes import InvalidRequest, Routes
from tuma.runtime.settings import load
from tuma.runtime.settings.webhooks import WebhookSettings
from tuma.runtime.webhook_gate import WebhookGate
from tuma.security.addresses import Addresses
from tuma.webhooks import business, daraja, privacy, provider
from tuma.webhooks.context import JSON, WebhookContext, reply

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = build_logger()
metrics = Metrics()
settings = load(WebhookSettings)
wiring.number_keys(settings)  # how a number is named in the ledger: the privacy key, read when first needed
counts = CountingMetrics(metrics, settings.METRICS)
webhooks = WebhookContext(settings, counts)
app = APIGatewayRestResolver()
# Every route declares how its caller authenticates; the gate reads that, and answers 404 for any
# path not declared before a handler runs.
routes = Routes(app)
for caller in (daraja, provider, business, privacy):
    caller.declare(routes, webhooks)
gate = WebhookGate(
    routes,
    wiring.webhook_secrets(settings),
    keys=wiring.api_keys(settings),
    replay=wiring.replay_guard(settings),
    max_body=settings.WEBHOOK_MAX_BODY_BYTES,
    daraja_addresses=Addresses(settings.DARAJA_CALLBACK_IPS),
)


@app.exception_handler(InvalidInput)  # type: ignore[untyped-decorator]
def invalid_input(error: InvalidInput) -> Response[dict[str, Any]]:
    return reply(
        422, {"error": "invalid request", "fields": [{"field": error.field, "problem": error.reason}]}
    )


@app.exception_handler(InvalidRequest)  # type: ignore[untyped-decorator]
def invalid_request(error: InvalidRequest) -> Response[dict[str, Any]]:
    fields = [
        {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "problem": e["msg"]}
        for e in error.errors[:20]
    ]
    return reply(422, {"error": "invalid request", "fields": fields})


@app.exception_handler(Unavailable)  # type: ignore[untyped-decorator]
def storage_unavailable(error: Unavailable) -> Response[dict[str, Any]]:
    logger.exception("could not record the request")
    return reply(503, {"error": "temporarily unable to record the request; retry"})


@app.exception_handler(ConfigurationError)  # type: ignore[untyped-decorator]
def misconfigured(error: ConfigurationError) -> Response[dict[str, Any]]:
    logger.error("configuration error: %s", error)
    return reply(500, {"error": "service misconfigured"})


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
    except Unavailable:  # the replay check could not be written: nothing was done yet
        logger.exception("could not check the signature's nonce")
        return {
            "statusCode": 503,
            "headers": {"Content-Type": JSON},
            "body": '{"error": "temporarily unable to record the request; retry"}',
        }
    if rejection is not None:
        counts.count(rejection.metric or f"WebhookRejected{rejection.status}")
        if rejection.refused is not None:
            logger.warning("refused a callback from %s to %s", *rejection.refused)
        return rejection.response()
    return app.resolve(event, context)


def openapi_json(title: str = "Tuma webhooks", version: str = "1") -> str:
    """The published contract of these routes (docs/openapi.json; scripts/openapi.py writes it)."""
    return routes.openapi_json(title, version)


gc.freeze()
gc.enable()
