"""What the webhook routes call, built once per container: the intake and the ledger at init (every
receipt needs them), the rest when first needed (most requests never do)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response, content_types

from tuma.errors import ConfigurationError
from tuma.runtime import wiring

if TYPE_CHECKING:
    from tuma.adapters.dynamodb_agenda import DynamoDBAgenda
    from tuma.ports import MetricsSink
    from tuma.runtime.settings.webhooks import WebhookSettings
    from tuma.services.delivery_reports import DeliveryReports
    from tuma.services.privacy import Privacy

JSON = content_types.APPLICATION_JSON


def reply(status: int, body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type=JSON, body=body)


class WebhookContext:
    def __init__(self, settings: WebhookSettings, counts: MetricsSink) -> None:
        self.settings = settings
        self.counts = counts
        self._client = wiring.dynamodb()
        self.intake = wiring.intake(settings)
        self.ledger = wiring.ledger(settings, self._client)

    @cached_property
    def agenda(self) -> DynamoDBAgenda:
        """Scheduled messages, for the cancel route."""
        return wiring.agenda(self.settings, self._client)

    @cached_property
    def optional_privacy(self) -> Privacy | None:
        """The suppression list and consent record; None when the stack has no privacy table."""
        return wiring.privacy(self.settings)

    @property
    def privacy(self) -> Privacy:
        found = self.optional_privacy
        if found is None:
            raise ConfigurationError("the stack has no privacy table (PRIVACY_TABLE, PRIVACY_SECRET)")
        return found

    @cached_property
    def delivery_reports(self) -> DeliveryReports:
        from tuma.services.delivery_reports import DeliveryReports

        return DeliveryReports(self.ledger, self.counts, lambda: self.optional_privacy)
