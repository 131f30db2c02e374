"""Delay the redelivery of a failed SQS message: the queue, not a sleeping Lambda, does the waiting."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from tuma.batching import chunked

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)
MAX_VISIBILITY = 12 * 3600


@dataclass(frozen=True)
class Postponement:
    queue_arn: str
    receipt_handle: str
    seconds: int


class SqsVisibility:
    """`client` makes the SQS client at the first postponement: most invocations have nothing to
    postpone, and each client built at init adds about 11 ms to every cold start (bench/cold_start.py)."""

    def __init__(self, client: Callable[[], SQSClient], known_urls: Sequence[str] = ()) -> None:
        self._make_client = client
        self._sqs: SQSClient | None = None
        # Queue URLs from configuration, so the function needs no sqs:GetQueueUrl permission for them.
        self._by_name = {url.rstrip("/").rsplit("/", 1)[-1]: url for url in known_urls if url}
        self._urls: dict[str, str] = {}

    @property
    def _client(self) -> SQSClient:
        if self._sqs is None:
            self._sqs = self._make_client()
        return self._sqs

    def _url(self, arn: str) -> str:
        if arn not in self._urls:
            _, _, _, _, account, name = arn.split(":", 5)
            self._urls[arn] = (
                self._by_name.get(name)
                or self._client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            )
        return self._urls[arn]

    def postpone(self, items: Sequence[Postponement]) -> None:
        """Best effort: if this fails, the message still returns after the queue's own visibility timeout."""
        by_queue: dict[str, list[Postponement]] = defaultdict(list)
        for item in items:
            by_queue[item.queue_arn].append(item)
        for arn, group in by_queue.items():
            try:
                url = self._url(arn)
                for chunk in chunked(group, 10):
                    entries = [
                        {
                            "Id": str(i),
                            "ReceiptHandle": p.receipt_handle,
                            "VisibilityTimeout": max(0, min(MAX_VISIBILITY, p.seconds)),
                        }
                        for i, p in enumerate(chunk)
                    ]
                    answer = self._client.change_message_visibility_batch(QueueUrl=url, Entries=entries)  # type: ignore[arg-type]
                    if answer.get("Failed"):
                        log.warning("could not postpone %d messages", len(answer["Failed"]))
            except (ClientError, BotoCoreError, ValueError) as exc:
                log.warning(
                    "could not postpone redelivery on %s: %s", arn.rsplit(":", 1)[-1], type(exc).__name__
                )
