"""Outbox sender: the one place that calls the provider's send endpoints.

SQS batch in; each record is an outbox message (DESIGN.md). Records that failed for a reason worth
retrying come back as batch item failures, postponed by how long the failure deserves; everything
else is settled in the ledger and deleted from the queue.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSEvent, SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from tuma import wiring
from tuma.adapters.sqs_visibility import Postponement, SqsVisibility
from tuma.config import Settings
from tuma.deadline import Deadline
from tuma.dispatch import Inbound, RecordOutcome
from tuma.observability import CallbackMetrics, build_logger

logger = build_logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
deadline = Deadline()
settings = Settings.from_env()
dispatcher = wiring.outbox_dispatcher(
    settings,
    CallbackMetrics(lambda name, value: metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)),
    time_left=deadline.seconds_left,
)
visibility = SqsVisibility(boto3.client("sqs"), known_urls=[settings.outbox_queue_url or ""])


class RetryLater(Exception):
    """Marks a record for redelivery; the reason is already in the ledger and the logs."""


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    deadline.start(context.get_remaining_time_in_millis())
    records = list(SQSEvent(event).records)
    outcomes: dict[str, RecordOutcome] = {
        o.record_id: o
        for o in dispatcher.dispatch(
            [
                Inbound(r.message_id, r.body, int(r.attributes.approximate_receive_count or 1))
                for r in records
            ],
            deadline.ms_left,
        )
    }
    visibility.postpone(
        [
            Postponement(r.event_source_arn, r.receipt_handle, outcomes[r.message_id].delay_seconds)
            for r in records
            if outcomes[r.message_id].retry and r.event_source_arn
        ]
    )

    def record_handler(record: SQSRecord) -> None:
        outcome = outcomes[record.message_id]
        if outcome.retry:
            raise RetryLater(outcome.reason or "retry")

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
