"""The outbox queue (`tuma.ports.OutboxQueue`) on SQS: where every source puts what the sender sends.

Two lanes, one sender: messages someone is waiting for (`OutboxMessage.fast`) go to the fast queue,
which the sender reads without a batching window; the rest to the outbox queue, read in batches of
up to 100 gathered over two seconds so that one `sendbulk` call carries many. A backlog (what the
pull recovered after an outage) goes to the outbox queue too: the fast lane stays free for live
receipts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.batching import chunked
from tuma.ports import OutboxQueue

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from tuma.models.outbox import OutboxMessage


@translates_aws_errors
class SqsOutboxQueue(OutboxQueue):
    def __init__(
        self,
        client: SQSClient | None,
        queue_url: str,
        fast_queue_url: str | None = None,
        *,
        factory: Callable[[], SQSClient] | None = None,
    ) -> None:
        """`client`, or `factory` to make it at the first call: the sender parks and alerts rarely,
        and a client built at init costs every cold start ~11 ms (bench/cold_start.py)."""
        self._sqs = client
        self._factory = factory
        self._url = queue_url
        self._fast_url = fast_queue_url or queue_url

    @property
    def _client(self) -> SQSClient:
        if self._sqs is None:
            assert self._factory is not None, "an SQS client or a factory for it"
            self._sqs = self._factory()
        return self._sqs

    def _lane(self, message: OutboxMessage) -> str:
        return self._fast_url if message.fast else self._url

    def put(self, message: OutboxMessage) -> None:
        self._client.send_message(QueueUrl=self._lane(message), MessageBody=message.to_json())

    def park(self, body: str, fast: bool, delay_seconds: int) -> None:
        self._client.send_message(
            QueueUrl=self._fast_url if fast else self._url,
            MessageBody=body,
            DelaySeconds=max(0, min(900, delay_seconds)),  # SQS's longest delay
        )

    def put_many(self, messages: Sequence[OutboxMessage], *, backlog: bool = False) -> set[int]:
        failed: set[int] = set()
        lanes: dict[str, list[tuple[int, OutboxMessage]]] = {}
        for number, message in enumerate(messages):
            lanes.setdefault(self._url if backlog else self._lane(message), []).append((number, message))
        for url, numbered in lanes.items():
            for chunk in chunked(numbered, 10):
                entries = [{"Id": str(i), "MessageBody": m.to_json()} for i, m in chunk]
                answer = self._client.send_message_batch(QueueUrl=url, Entries=entries)  # type: ignore[arg-type]
                failed.update(int(f["Id"]) for f in answer.get("Failed", []))
        return failed
