"""The business's privacy requests, signed: a customer's "STOP" (a suppression, promotions only or
everything) and its removal, a consent to promotions and its withdrawal. A number is never part of a
path: it comes in the body, in any Kenyan form or as Safaricom's hash of it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

# Response is read when the OpenAPI document evaluates the handlers' annotations (context loads it anyway).
from aws_lambda_powertools.event_handler import Response

from tuma.models.api_keys import Scope
from tuma.models.privacy import SuppressionSource
from tuma.runtime.routes import Auth, Routes
from tuma.webhooks.context import reply

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.params import Body

    from tuma.models.privacy_requests import (
        ConsentRequest,
        ConsentWithdrawal,
        SuppressionRemoval,
        SuppressionRequest,
    )
    from tuma.webhooks.context import WebhookContext

log = logging.getLogger(__name__)


def declare(routes: Routes, context: WebhookContext) -> None:
    @routes.add(
        "post",
        "/suppressions",
        auth=Auth.SIGNATURE,
        scope=Scope.PRIVACY,
        body="tuma.models.privacy_requests:SuppressionRequest",
        answers={201: ("added", "Suppressed"), 200: ("already suppressed for that scope", "Suppressed")},
        tags=["Privacy"],
        summary="Stop messages to a number: promotions only, or all",
    )
    def suppress(request: Annotated[SuppressionRequest, Body()]) -> Response[dict[str, Any]]:
        person = context.privacy.person(request.number)
        added = context.privacy.suppress(person, request.scope, request.reason, SuppressionSource.API)
        log.info(
            "suppression %s for %s (%s)", "added" if added else "already there", person.masked, request.scope
        )
        return reply(
            201 if added else 200, {"number": person.masked, "scope": request.scope.value, "added": added}
        )

    @routes.add(
        "post",
        "/suppressions/remove",
        auth=Auth.SIGNATURE,
        scope=Scope.PRIVACY,
        body="tuma.models.privacy_requests:SuppressionRemoval",
        answers={200: ("removed (`removed` is empty when the number was not suppressed)", "Unsuppressed")},
        tags=["Privacy"],
        summary="Send to a number again: one scope, or every scope",
    )
    def unsuppress(request: Annotated[SuppressionRemoval, Body()]) -> Response[dict[str, Any]]:
        person = context.privacy.person(request.number)
        removed = context.privacy.unsuppress(person, request.scope)
        log.info("suppression removed for %s: %s", person.masked, ", ".join(removed) or "none was there")
        return reply(200, {"number": person.masked, "removed": [scope.value for scope in removed]})

    @routes.add(
        "post",
        "/consents",
        auth=Auth.SIGNATURE,
        scope=Scope.PRIVACY,
        body="tuma.models.privacy_requests:ConsentRequest",
        answers={201: ("recorded", "Consented")},
        tags=["Privacy"],
        summary="Record a customer's consent to promotional messages",
    )
    def consent(request: Annotated[ConsentRequest, Body()]) -> Response[dict[str, Any]]:
        person = context.privacy.person(request.number)
        context.privacy.consent(person, request.source, request.wording, request.at)
        log.info("consent recorded for %s (%s)", person.masked, request.source)
        return reply(201, {"number": person.masked, "source": request.source, "consented": True})

    @routes.add(
        "post",
        "/consents/withdraw",
        auth=Auth.SIGNATURE,
        scope=Scope.PRIVACY,
        body="tuma.models.privacy_requests:ConsentWithdrawal",
        answers={200: ("withdrawn, or there was none", "Withdrawn")},
        tags=["Privacy"],
        summary="Withdraw a customer's consent to promotional messages",
    )
    def withdraw(request: Annotated[ConsentWithdrawal, Body()]) -> Response[dict[str, Any]]:
        person = context.privacy.person(request.number)
        withdrawn = context.privacy.withdraw(person)
        log.info("consent withdrawn for %s: %s", person.masked, withdrawn)
        return reply(200, {"number": person.masked, "withdrawn": withdrawn})
