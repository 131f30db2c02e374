"""Delivery reports: which provider status means what, and which may replace which.

Statuses only move forward. A duplicate report changes nothing, and a late `AbsentSubscriber`
(which the network may send 18-24 hours later) never replaces `DeliveredToTerminal`. A description
Tuma does not know is kept verbatim, classified `unknown`, and leaves the message `SENT`: anything
the table knows may replace it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tuma.models.delivery_callback import DeliveryCallback
from tuma.models.ledger import PRIMARY, DeliveryUpdate, Status


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
