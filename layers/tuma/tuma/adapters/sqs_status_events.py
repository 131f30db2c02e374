"""The status-events queue (`tuma.ports.StatusEventQueue`) on SQS FIFO: one ordered group per message
and recipient, SQS's deduplication on the event's own id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.batching import chunked
from tuma.ports import StatusEventQueue

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from tuma.models.status_events import StatusEvent


@translates_aws_errors
class SqsStatusEventQueue(StatusEventQueue):
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def put_many(self, events: Sequence[StatusEvent]) -> set[int]:
        failed: set[int] = set()
        for chunk in chunked(list(enumerate(events)), 10):
            answer = self._sqs.send_message_batch(
                QueueUrl=self._url,
                Entries=[
                    {
                        "Id": str(i),
                        "MessageBody": e.body().decode(),
                        "MessageGroupId": e.group,
                        "MessageDeduplicationId": e.event_id,
                    }
                    for i, e in chunk
                ],
            )
            failed.update(int(f["Id"]) for f in answer.get("Failed", []))
        return failed
