"""The Lambda events Tuma's functions take (SQS, DynamoDB Streams), read into small typed records.

Powertools' event data classes read the same fields, but importing any one of them imports all of
them (the package's `__init__`), about 45 ms of every cold start here (bench/cold_start.py). The
shapes are AWS's documented event formats; images are deserialized with Powertools' own
TypeDeserializer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer

log = logging.getLogger(__name__)

_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class SqsMessage:
    message_id: str
    body: str
    receipt_handle: str
    event_source_arn: str
    receive_count: int = 1
    group_id: str = ""  # FIFO queues


def _records(event: Any) -> list[Mapping[str, Any]]:
    """The event's records. An envelope AWS could not have sent (a hand-made `sam local invoke -e`,
    a test) has none, or fewer: what is not a record is skipped with a warning, never a crash."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        if records is not None or not isinstance(event, Mapping):
            log.warning("the event has no list of Records: nothing to do")
        return []
    kept = [r for r in records if isinstance(r, Mapping)]
    if len(kept) < len(records):
        log.warning("%d of the event's records are not records: skipped", len(records) - len(kept))
    return kept


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def sqs_messages(event: Mapping[str, Any]) -> list[SqsMessage]:
    messages = []
    for record in _records(event):
        attributes = _mapping(record.get("attributes"))
        try:
            count = int(attributes.get("ApproximateReceiveCount") or 1)
        except (TypeError, ValueError):
            count = 1
        messages.append(
            SqsMessage(
                message_id=str(record.get("messageId", "")),
                body=str(record.get("body", "")),
                receipt_handle=str(record.get("receiptHandle", "")),
                event_source_arn=str(record.get("eventSourceARN", "")),
                receive_count=count,
                group_id=str(attributes.get("MessageGroupId") or ""),
            )
        )
    return messages


@dataclass(frozen=True)
class StreamRecord:
    event_id: str
    event_name: str | None
    sequence_number: str | None
    raw: Mapping[str, Any] = field(repr=False)  # the record's `dynamodb` part, still typed

    def images(self) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None]:
        """Keys, old image and new image as Python values. Raises (ValueError, TypeError, KeyError,
        ArithmeticError) on an attribute value DynamoDB could not have written."""
        return tuple(  # type: ignore[return-value]
            _image(self.raw[part]) if self.raw.get(part) else None
            for part in ("Keys", "OldImage", "NewImage")
        )


def _image(part: Any) -> dict[str, Any]:
    if not isinstance(part, Mapping):
        raise TypeError("an image is not a map of attributes")
    return {k: _deserializer.deserialize(v) for k, v in part.items()}


def stream_records(event: Mapping[str, Any]) -> list[StreamRecord]:
    records = []
    for record in _records(event):
        change = _mapping(record.get("dynamodb"))
        name, sequence = record.get("eventName"), change.get("SequenceNumber")
        records.append(
            StreamRecord(
                event_id=str(record.get("eventID", "?")),
                event_name=name if isinstance(name, str) else None,
                sequence_number=sequence if isinstance(sequence, str) else None,
                raw=change,
            )
        )
    return records
