"""Daraja's callbacks: C2B validation and confirmation, STK Push results, Transaction Status results,
and Pull's own notifications.

Daraja is acknowledged whatever it posts, so that Safaricom does not retry what can never make a
receipt: a callback that cannot is recorded in the ledger (REJECTED, with the reason) by the intake.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

from tuma.formatting.clock import now_utc
from tuma.runtime.routes import Auth, Routes

if TYPE_CHECKING:
    # Read by the OpenAPI document only (tuma.runtime.routes.Routes.openapi_json), never at a cold start.
    from aws_lambda_powertools.event_handler.openapi.params import Body

    from tuma.models.mpesa import (
        C2BConfirmation,
        C2BValidation,
        PullNotice,
        StatusResultCallback,
        StkCallback,
    )
    from tuma.services.intake import Outcome
    from tuma.webhooks.context import WebhookContext

log = logging.getLogger(__name__)
ACKNOWLEDGED = {200: ("acknowledged, whatever the body: what cannot make a receipt is recorded", "DarajaAck")}


def accepted() -> dict[str, Any]:
    """Daraja's "Accepted", from tuma.models.mpesa: loaded with the routes' models, at the first callback."""
    from tuma.models.mpesa import CONFIRMED

    return CONFIRMED


def declare(routes: Routes, context: WebhookContext) -> None:
    def acknowledge(outcome: Outcome) -> dict[str, Any]:
        context.counts.count(outcome.fate.value)
        return accepted()

    @routes.add(
        "post",
        "/payments/c2b/validation/<token>",
        body="tuma.models.mpesa:C2BValidation",
        answers={200: ("accepted or rejected, in Daraja's words", "DarajaAck")},
        summary="C2B validation: accept or reject",
        auth=Auth.DARAJA,
        lenient=True,
        tags=["Daraja"],
    )
    def c2b_validation(token: str, request: Annotated[C2BValidation, Body()]) -> dict[str, str]:
        return context.intake.c2b_validation(request)

    @routes.add(
        "post",
        "/payments/c2b/confirmation/<token>",
        body="tuma.models.mpesa:C2BConfirmation",
        answers=ACKNOWLEDGED,
        summary="C2B confirmation: queue the receipt",
        auth=Auth.DARAJA,
        lenient=True,
        tags=["Daraja"],
    )
    def c2b_confirmation(token: str, request: Annotated[C2BConfirmation, Body()]) -> dict[str, Any]:
        return acknowledge(context.intake.c2b_confirmation(request))

    @routes.add(
        "post",
        "/payments/stk/<token>",
        body="tuma.models.mpesa:StkCallback",
        answers=ACKNOWLEDGED,
        summary="STK Push result: queue the receipt of a payment",
        auth=Auth.DARAJA,
        lenient=True,
        tags=["Daraja"],
    )
    def stk_callback(token: str, callback: Annotated[StkCallback, Body()]) -> dict[str, Any]:
        return acknowledge(context.intake.stk_callback(callback))

    @routes.add(
        "post",
        "/payments/status-results/<token>",
        body="tuma.models.mpesa:StatusResultCallback",
        answers=ACKNOWLEDGED,
        summary="Transaction Status result: a payment Tuma never saw gets its receipt",
        auth=Auth.DARAJA,
        lenient=True,
        tags=["Daraja"],
    )
    def status_result(token: str, callback: Annotated[StatusResultCallback, Body()]) -> dict[str, Any]:
        # The answer to `tuma daraja status` (or the console's "ask M-Pesa"), posted later by Daraja.
        return acknowledge(context.intake.status_result(callback.Result, now_utc()))

    @routes.add(
        "post",
        "/payments/pull/<token>",
        body="tuma.models.mpesa:PullNotice",
        answers={
            200: ("acknowledged: the pull job reads M-Pesa's list itself, on its schedule", "DarajaAck")
        },
        summary="Pull Transactions' CallBackURL: acknowledged and logged",
        auth=Auth.DARAJA,
        lenient=True,
        tags=["Daraja"],
    )
    def pull_notice(token: str, notice: Annotated[PullNotice, Body()]) -> dict[str, Any]:
        # Registered as Pull's CallBackURL (tuma daraja register), so that nothing Pull sends lands on
        # the C2B confirmation route. Which fields it carries is logged, never their values.
        log.info("Daraja Pull notice with fields %s", sorted(notice.model_extra or {}))
        return accepted()
