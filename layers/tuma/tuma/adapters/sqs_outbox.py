"""The outbox queue (`tuma.ports.OutboxQueue`) on SQS: where every source puts what the sender sends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tuma.batching import chunked

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from tuma.models.outbox import OutboxMessage


class SqsOutboxQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def put(self, message: OutboxMessage) -> None:
        self._client.send_message(QueueUrl=self._url, MessageBody=message.to_json())

    def put_many(self, messages: Sequence[OutboxMessage]) -> set[int]:
        failed: set[int] = set()
        numbered = list(enumerate(messages))
        for chunk in chunked(numbered, 10):
            entries = [{"Id": str(i), "MessageBody": m.to_json()} for i, m in chunk]
            answer = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)  # type: ignore[arg-type]
            failed.update(int(f["Id"]) for f in answer.get("Failed", []))
        return failed
