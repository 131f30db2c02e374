"""The SMS provider's delivery-report callback (the secondary's portal adds `?provider=secondary`:
message ids are per provider)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from tuma.runtime.routes import Auth, Routes

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.params import Body, Query

    from tuma.models.delivery_callback import DeliveryCallback
    from tuma.webhooks.context import WebhookContext


def declare(routes: Routes, context: WebhookContext) -> None:
    @routes.add(
        "post",
        "/delivery-reports/<token>",
        auth=Auth.PROVIDER,
        body="tuma.models.delivery_callback:DeliveryCallback",
        query={"provider": ("primary", "secondary")},
        answers={200: ("recorded; `unknown` when no message carries its id (not retried)", "ReportResult")},
        tags=["Provider"],
        summary="The provider's delivery-report callback",
    )
    def delivery_report(
        token: str,
        report: Annotated[DeliveryCallback, Body()],
        provider: Annotated[Literal["primary", "secondary"], Query()] = "primary",
    ) -> dict[str, str]:
        return {"result": context.delivery_reports.receive(report, provider).answer}
