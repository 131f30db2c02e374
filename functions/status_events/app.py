"""Status events: the ledger's stream in, one event per status change out, onto the status-events
FIFO queue (one ordered group per message and recipient) for functions/status_notifier to deliver."""

from __future__ import annotations

import gc

# Everything init builds lives as long as the process, so the collections that run during the
# imports find no garbage; they cost about a tenth of the cold start (bench/cold_start.py).
# Back on at the end of the module, with init's objects frozen out of later collections.
gc.disable()

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from tuma.batching import chunked
from tuma.runtime.aws import client
from tuma.runtime.batch import BatchResponse, item_failures
from tuma.runtime.events import stream_records
from tuma.runtime.observability import CountingMetrics, build_logger
from tuma.runtime.settings import load
from tuma.runtime.settings.status_events import StatusEventSettings
from tuma.services.status_events import StatusEvent, event_from_change

logger = build_logger()
metrics = Metrics()
settings = load(StatusEventSettings)
counts = CountingMetrics(metrics, settings.METRICS)
sqs = client("sqs")


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> BatchResponse:
    events: list[tuple[str, StatusEvent]] = []
    for record in stream_records(event):
        _, old, new = record.images()
        status = event_from_change(old, new)
        if status is not None and record.sequence_number:
            events.append((record.sequence_number, status))
    failed: list[str] = []
    for chunk in chunked(events, 10):
        answer = sqs.send_message_batch(
            QueueUrl=settings.STATUS_EVENTS_QUEUE_URL,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": e.body().decode(),
                    "MessageGroupId": e.group,
                    "MessageDeduplicationId": e.event_id,
                }
                for i, (_, e) in enumerate(chunk)
            ],
        )
        failed += [chunk[int(f["Id"])][0] for f in answer.get("Failed", [])]
    if len(events) > len(failed):
        counts.count("StatusEventsQueued", len(events) - len(failed))
    return item_failures(failed)


gc.freeze()
gc.enable()
