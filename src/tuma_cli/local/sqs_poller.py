"""Lambda's SQS event source, locally: batch, invoke, delete what succeeded, leave the rest to SQS.

Like the real event source, a record reported in `batchItemFailures` (or every record, if the
function failed outright) is not deleted: it comes back when its visibility timeout ends, and the
queue's redrive policy moves it to the dead-letter queue after `maxReceiveCount` receives.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuma_cli.local.events import sqs_event

log = logging.getLogger(__name__)
Invoke = Callable[[dict[str, Any]], Any]


@dataclass
class PollResult:
    received: int = 0
    deleted: int = 0
    failed_receipts: list[str] = field(default_factory=list)
    error: str | None = None


class SqsPoller:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        invoke: Invoke,
        *,
        batch_size: int = 10,
        window_seconds: float = 0.0,
        report_failures: bool = True,
    ) -> None:
        self._sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self._invoke = invoke
        self.batch_size = batch_size
        self.window = window_seconds
        self.report_failures = report_failures
        self.invocations = 0

    def _receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.window
        first = True
        while len(messages) < self.batch_size:
            answer = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                WaitTimeSeconds=wait_seconds if first else 0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            first = False
            batch = answer.get("Messages", [])
            messages.extend(batch)
            if not batch:
                if time.monotonic() >= deadline:
                    break
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        return messages

    def poll_once(self, wait_seconds: int = 0) -> PollResult:
        messages = self._receive(wait_seconds)
        result = PollResult(received=len(messages))
        if not messages:
            return result
        self.invocations += 1
        try:
            response = self._invoke(sqs_event(messages, self.queue_arn))
        except Exception as exc:  # the function failed: Lambda deletes nothing
            result.error = f"{type(exc).__name__}: {exc}"
            result.failed_receipts = [m["ReceiptHandle"] for m in messages]
            log.warning("invocation failed, %d messages return after their visibility timeout", len(messages))
            return result
        failed_ids: set[str] = set()
        if self.report_failures and isinstance(response, dict):
            failed_ids = {f.get("itemIdentifier") for f in response.get("batchItemFailures") or []}
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        result.failed_receipts = [m["ReceiptHandle"] for m in messages if m["MessageId"] in failed_ids]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start : start + 10])
            ]
            self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        result.deleted = len(done)
        return result

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                result = self.poll_once(wait_seconds=1)
            except Exception as exc:  # the emulator went away (shutdown) or hiccupped: keep the loop alive
                if stop.is_set():
                    return
                log.warning("SQS poll failed: %s", exc)
                time.sleep(0.5)
                continue
            if not result.received:
                stop.wait(0.05)
