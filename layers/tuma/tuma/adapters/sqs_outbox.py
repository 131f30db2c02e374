"""The outbox queue: where every source puts the messages the sender will send."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from tuma.outbox import OutboxMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class OutboxQueue(Protocol):
    def put(self, message: OutboxMessage) -> None:
        """Durably queued when this returns; raises otherwise."""
        ...

    def put_many(self, messages: Sequence[OutboxMessage]) -> set[int]:
        """Queue several; answers the positions that could not be queued."""
        ...


class SqsOutboxQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def put(self, message: OutboxMessage) -> None:
        self._client.send_message(QueueUrl=self._url, MessageBody=message.to_json())

    def put_many(self, messages: Sequence[OutboxMessage]) -> set[int]:
        failed: set[int] = set()
        for start in range(0, len(messages), 10):
            entries = [
                {"Id": str(start + i), "MessageBody": m.to_json()}
                for i, m in enumerate(messages[start : start + 10])
            ]
            answer = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)  # type: ignore[arg-type]
            failed.update(int(f["Id"]) for f in answer.get("Failed", []))
        return failed
