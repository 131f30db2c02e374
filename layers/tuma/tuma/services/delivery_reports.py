"""Delivery reports: which provider status means what, and which may replace which.

Statuses only move forward. A duplicate report changes nothing, and a late `AbsentSubscriber`
(which the network may send 18-24 hours later) never replaces `DeliveredToTerminal`. A description
Tuma does not know is kept verbatim, classified `unknown`, and leaves the message `SENT`: anything
the table knows may replace it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from tuma.models.delivery_callback import DeliveryCallback
from tuma.models.ledger import PRIMARY, DeliveryUpdate, ReportOutcome, Status

if TYPE_CHECKING:
    from tuma.ports import Ledger, MetricsSink
    from tuma.services.privacy import Privacy

log = logging.getLogger(__name__)


class ReportClass(StrEnum):
    DELIVERED = "delivered"
    FINAL_FAILURE = "final_failure"  # the network gave up: no later report will say otherwise
    IN_PROGRESS = "in_progress"  # the network has it; a final report may follow
    UNKNOWN = "unknown"  # a description not in the table: kept verbatim, nothing concluded


@dataclass(frozen=True)
class Outcome:
    status: Status
    rank: int  # a higher rank replaces a lower one
    kind: ReportClass
    # The number blocked this sender or all promotions (the brand's delivery-status page): it goes on
    # the suppression list for promotions (tuma.services.privacy). The provider documents no send
    # code that means this; its reports are the only place an opt-out shows.
    opted_out: bool = False


# description (spaces removed, lower case) -> outcome: the provider's documented statuses
# (`sms-api.md`, the brand's delivery-status page), and nothing else. A word another gateway may use
# ("Rejected", "Expired", "Undelivered") proves nothing about this provider's network: it is kept
# verbatim as `unknown`, and the message stays SENT until a report Tuma knows, or the patience, ends it.
OUTCOMES: dict[str, Outcome] = {
    "scheduled": Outcome(Status.SENT, 1, ReportClass.IN_PROGRESS),
    "senttonetwork": Outcome(Status.SENT, 2, ReportClass.IN_PROGRESS),
    "absentsubscriber": Outcome(Status.FAILED, 3, ReportClass.FINAL_FAILURE),
    "unknown": Outcome(
        Status.FAILED, 3, ReportClass.FINAL_FAILURE
    ),  # Airtel/Telkom's documented blanket failure
    "deliveryimpossible": Outcome(Status.FAILED, 4, ReportClass.FINAL_FAILURE),
    "sendernameblacklisted": Outcome(Status.FAILED, 4, ReportClass.FINAL_FAILURE, opted_out=True),
    "deliveredtoterminal": Outcome(Status.DELIVERED, 5, ReportClass.DELIVERED),
}
UNRECOGNISED = Outcome(Status.SENT, 0, ReportClass.UNKNOWN)
DESCRIPTION_CAP = 200


def _normalise(description: str) -> str:
    return "".join(description.split()).lower()


def outcome_of(description: str) -> Outcome:
    return OUTCOMES.get(_normalise(description), UNRECOGNISED)


def update_for(callback: DeliveryCallback, provider: str = PRIMARY) -> DeliveryUpdate:
    outcome = outcome_of(callback.description)
    return DeliveryUpdate(
        provider=provider,
        provider_message_id=callback.message_id,
        delivery_status=" ".join(callback.description.split())[:DESCRIPTION_CAP],
        status=outcome.status,
        rank=outcome.rank,
        reported_at=callback.timestamp,
        description=callback.description[:DESCRIPTION_CAP],
        kind=outcome.kind.value,
        opted_out=outcome.opted_out,
    )


class DeliveryReports:
    """A report the provider calls back with: applied to the ledger (forward only), an opt-out added
    to the suppression list for promotions, and counted (the delivery-failure-rate alarm divides
    `DeliveriesFailed` by `DeliveriesDelivered`; `DeliveryReportsByCallback` beside ...ByPolling says
    whether the portal's callback is set)."""

    def __init__(
        self, ledger: Ledger, metrics: MetricsSink, privacy: Callable[[], Privacy | None] = lambda: None
    ) -> None:
        """`privacy`: the suppression list, built when the first opt-out needs it (None: no table)."""
        self._ledger = ledger
        self._metrics = metrics
        self._privacy = privacy

    def receive(self, callback: DeliveryCallback, provider: str = PRIMARY) -> ReportOutcome:
        update = update_for(callback, provider)
        result = self._ledger.apply_delivery(update)
        self._metrics.count(result.value)
        if result is ReportOutcome.UNKNOWN:
            # Answered all the same: the provider would otherwise retry a report we can never match.
            log.warning("delivery report for unknown message %s", update.provider_message_id)
        if result is not ReportOutcome.APPLIED:
            return result
        if update.final:
            self._metrics.count("DeliveryReportsByCallback")
        if update.status is Status.DELIVERED:
            self._metrics.count("DeliveriesDelivered")
        elif update.status is Status.FAILED:
            self._metrics.count("DeliveriesFailed")
        if update.opted_out:
            self._opted_out(update)
        return result

    def _opted_out(self, update: DeliveryUpdate) -> None:
        """The number blocked this sender or all promotions: no more promotions go to it."""
        privacy = self._privacy()
        if privacy is None:
            return
        recipients = self._ledger.recipients_of(update.provider_message_id, update.provider)
        if privacy.opted_out(recipients, update.delivery_status):
            self._metrics.count("NumbersOptedOut")
