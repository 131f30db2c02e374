"""Send: what the judge let go is recorded QUEUED, then handed to the provider in as few calls as
its API allows. A crash mid-send leaves QUEUED entries an operator can find, and claims that the next
attempt completes or sends (tuma.services.send_path.claiming)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tuma.errors import ConfigurationError
from tuma.formatting.clock import now_utc
from tuma.models.ledger import Status
from tuma.models.privacy import MessageCategory
from tuma.models.provider_codes import Disposition
from tuma.models.sending import BulkMessage, Delivery, ProviderRoute, SendResult
from tuma.ports import Ledger, Sender


@dataclass(frozen=True)
class Sent:
    """What was handed to the provider, and its verdict on each (by position)."""

    deliveries: Sequence[Delivery]
    results: Mapping[int, SendResult] = field(default_factory=dict)
    queued_at: datetime | None = None


class Transmitter:
    def __init__(self, sender: Sender, ledger: Ledger, *, clock: Callable[[], datetime] = now_utc) -> None:
        self._sender = sender
        self._ledger = ledger
        self._clock = clock

    def send(self, deliveries: Sequence[Delivery]) -> Sent:
        if not deliveries:
            return Sent(deliveries)
        queued_at = self._clock()
        self._ledger.write(
            [d.entry(Status.QUEUED, queued_at=queued_at, updated_at=queued_at) for d in deliveries]
        )
        return Sent(deliveries, send_all(self._sender, deliveries), queued_at)


def send_all(sender: Sender, deliveries: Sequence[Delivery]) -> Mapping[int, SendResult]:
    """Results by position in `deliveries`.

    Plain texts go out through `sendbulk` (one entry each, matched back by clientsmsid). The OTP and
    hashed routes have no bulk form, so those are sent one by one.
    """
    results: dict[int, SendResult] = {}
    try:
        bulk = [
            BulkMessage(
                client_sms_id=str(i + 1),
                mobile=d.recipient.value,
                message=d.text.text,
                pinned=d.pinned,
                promotional=d.message_category is MessageCategory.PROMOTIONAL,
            )
            for i, d in enumerate(deliveries)
            if d.route is ProviderRoute.SMS
        ]
        if bulk:
            answers = sender.send_bulk(bulk)
            for message in bulk:
                results[int(message.client_sms_id) - 1] = answers[message.client_sms_id]
        for i, delivery in enumerate(deliveries):
            if delivery.route is not ProviderRoute.SMS:
                hashed = delivery.route is ProviderRoute.HASHED
                results[i] = sender.send_otp(
                    delivery.recipient.value, delivery.text.text, hashed=hashed, pinned=delivery.pinned
                )
    except ConfigurationError as exc:
        failure = SendResult(Disposition.CONFIG, str(exc))
        for i in range(len(deliveries)):
            results.setdefault(i, failure)
    return results
