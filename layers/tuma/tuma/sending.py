"""Put deliveries on the wire in as few provider calls as the routes allow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from tuma.config import ConfigurationError
from tuma.deliveries import Delivery, SendRoute
from tuma.provider.client import BulkMessage, SendResult
from tuma.provider.codes import Disposition


class Sender(Protocol):
    """The part of the provider client that sending needs (swappable in unit tests)."""

    def send_bulk(self, messages: Sequence[BulkMessage]) -> dict[str, SendResult]: ...

    def send_otp(self, mobile: str, message: str, *, hashed: bool = False) -> SendResult: ...


def send_all(sender: Sender, deliveries: Sequence[Delivery]) -> Mapping[int, SendResult]:
    """Results by position in `deliveries`.

    Plain texts go out through `sendbulk` (one entry each, matched back by clientsmsid). The OTP and
    hashed routes have no bulk form, so those are sent one by one.
    """
    results: dict[int, SendResult] = {}
    try:
        bulk = [
            BulkMessage(client_sms_id=str(i + 1), mobile=d.recipient.value, message=d.text.text)
            for i, d in enumerate(deliveries)
            if d.route is SendRoute.SMS
        ]
        if bulk:
            answers = sender.send_bulk(bulk)
            for message in bulk:
                results[int(message.client_sms_id) - 1] = answers[message.client_sms_id]
        for i, delivery in enumerate(deliveries):
            if delivery.route is not SendRoute.SMS:
                hashed = delivery.route is SendRoute.HASHED
                results[i] = sender.send_otp(delivery.recipient.value, delivery.text.text, hashed=hashed)
    except ConfigurationError as exc:
        failure = SendResult(Disposition.CONFIG, str(exc))
        for i in range(len(deliveries)):
            results.setdefault(i, failure)
    return results
