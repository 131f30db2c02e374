"""Delivery reports: which provider status means what, and which may replace which.

Statuses only move forward. A duplicate report changes nothing, and a late `AbsentSubscriber`
(which the network may send 18-24 hours later) never replaces `DeliveredToTerminal`.
"""

from __future__ import annotations

from tuma.models.ledger import DeliveryUpdate, Status
from tuma.provider.answers import DeliveryCallback

# description (normalised) -> (ledger status, rank); a higher rank replaces a lower one.
OUTCOMES: dict[str, tuple[Status, int]] = {
    "scheduled": (Status.SENT, 1),
    "senttonetwork": (Status.SENT, 2),
    "absentsubscriber": (Status.FAILED, 3),
    "unknown": (Status.FAILED, 3),
    "deliveryimpossible": (Status.FAILED, 4),
    "sendernameblacklisted": (Status.FAILED, 4),
    "deliveredtoterminal": (Status.DELIVERED, 5),
}
UNRECOGNISED = (Status.SENT, 1)


def _normalise(description: str) -> str:
    return "".join(description.split()).lower()


def outcome_of(description: str) -> tuple[Status, int]:
    return OUTCOMES.get(_normalise(description), UNRECOGNISED)


def update_for(callback: DeliveryCallback) -> DeliveryUpdate:
    status, rank = outcome_of(callback.description)
    return DeliveryUpdate(
        provider_message_id=callback.message_id,
        delivery_status=" ".join(callback.description.split()),
        status=status,
        rank=rank,
        reported_at=callback.timestamp,
    )
