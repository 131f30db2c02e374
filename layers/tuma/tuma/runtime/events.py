"""The Lambda events Tuma's functions take (SQS, DynamoDB Streams), read into small typed records.

Powertools' event data classes read the same fields, but importing any one of them imports all of
them (the package's `__init__`), about 45 ms of every cold start here (bench/cold_start.py). The
shapes are AWS's documented event formats; images are deserialized with Powertools' own
TypeDeserializer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer

_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class SqsMessage:
    message_id: str
    body: str
    receipt_handle: str
    event_source_arn: str
    receive_count: int = 1
    group_id: str = ""  # FIFO queues


def sqs_messages(event: Mapping[str, Any]) -> list[SqsMessage]:
    messages = []
    for record in event.get("Records") or []:
        attributes = record.get("attributes") or {}
        try:
            count = int(attributes.get("ApproximateReceiveCount") or 1)
        except ValueError:
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
            {k: _deserializer.deserialize(v) for k, v in self.raw[part].items()}
            if self.raw.get(part)
            else None
            for part in ("Keys", "OldImage", "NewImage")
        )


def stream_records(event: Mapping[str, Any]) -> list[StreamRecord]:
    records = []
    for record in event.get("Records") or []:
        change = record.get("dynamodb") or {}
        records.append(
            StreamRecord(
                event_id=str(record.get("eventID", "?")),
                event_name=record.get("eventName"),
                sequence_number=change.get("SequenceNumber"),
                raw=change if isinstance(change, Mapping) else {},
            )
        )
    return records
