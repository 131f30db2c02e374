"""Read: each queued record becomes an outbox message, or a recorded reason why it cannot.

A record is an outbox message (JSON), or a CloudWatch alarm delivered by SNS into the queue. One
that is neither is rejected with the reason (keyed by its idempotency key when one can be read; the
metric and a log line otherwise). An alert storm's summary, released when its window closed, gets
its count now; a summary of a window nothing repeated in is not sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeGuard

from pydantic import ValidationError

from tuma.models.ledger import NO_RECIPIENT_REF, LedgerEntry, Status
from tuma.models.outbox import OutboxMessage, key_of
from tuma.models.templates import Catalog
from tuma.models.validation import summarize
from tuma.services.send_path.batch import Batch, Inbound

log = logging.getLogger(__name__)
Windows = Callable[[Sequence[str]], Mapping[str, Mapping[str, Any]]]


class Reader:
    def __init__(self, *, language: str = "en", windows: Windows | None = None) -> None:
        """`windows` reads alert-storm windows (tuma.services.storms): without it no summary is sent."""
        self._language = language
        self._windows = windows

    def read(self, batch: Batch, catalog: Catalog) -> dict[str, OutboxMessage]:
        """The batch's messages by record; what cannot be read is added to `batch.unsendable`."""
        parsed = {item.record_id: self._parse(item, batch, catalog) for item in batch.items}
        summaries = self._summaries([m for m in parsed.values() if m is not None and m.summary_of])
        read: dict[str, OutboxMessage] = {}
        for record_id, message in parsed.items():
            found = summaries.get(message.idempotency_key) if message and message.summary_of else message
            if found is not None:
                read[record_id] = found
        return read

    def _parse(self, item: Inbound, batch: Batch, catalog: Catalog) -> OutboxMessage | None:
        try:
            parsed = json.loads(item.body)
        except ValueError:
            parsed = None
        if _is_sns_notification(parsed):
            # A CloudWatch alarm, delivered by SNS into the outbox queue. Rare: its models are
            # loaded when the first one comes, not at every cold start.
            from tuma.services.alarms import alarm_from_sns

            try:
                return alarm_from_sns(parsed, self._language, catalog)
            except ValueError as exc:
                reason = str(exc)
        else:
            try:
                return OutboxMessage.model_validate_json(item.body)
            except ValidationError as exc:
                reason = f"malformed outbox message: {summarize(exc)}"
        batch.tally.count("MalformedMessages")
        key = key_of(item.body)
        if key is None:
            # Nothing to key a ledger entry on: the structured log line and the metric are the record.
            log.error(
                "outbox message %s rejected: %s", item.record_id, reason, extra={"record_id": item.record_id}
            )
        else:
            batch.unsendable.append(
                LedgerEntry(key, NO_RECIPIENT_REF, "-", Status.REJECTED, reason=reason[:500])
            )
        return None

    def _summaries(self, messages: Sequence[OutboxMessage]) -> dict[str, OutboxMessage]:
        """Alert-storm summaries, their count read now that their window has closed."""
        if not messages or self._windows is None:
            return {}
        from tuma.services.storms import summarised, summary_details

        windows = self._windows([m.summary_of for m in messages if m.summary_of])
        found = {}
        for message in messages:
            window = windows.get(message.summary_of or "")
            counted = summarised(window, message.idempotency_key) if window else None
            if counted and int(counted.get("more", 0)):
                data = {**message.data, "details": summary_details(counted)}
                found[message.idempotency_key] = message.model_copy(update={"data": data, "summary_of": None})
        return found


def _is_sns_notification(body: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(body, dict) and body.get("Type") == "Notification" and "TopicArn" in body
