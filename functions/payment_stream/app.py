"""Payments stream: a payment that becomes COMPLETED in the payments table gets its receipt queued.

Keyed by the payment's reference, the same key the webhooks use: a payment seen by Daraja and by
the table sends one SMS. Items that can never make a receipt are recorded and skipped; a record
fails (and the stream retries from it) only when the outbox could not take its receipt.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBStreamEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from tuma import wiring
from tuma.config import Settings
from tuma.intake import Outcome
from tuma.observability import build_logger
from tuma.payment_stream import Attributes, InvalidPayment, completed_payment
from tuma.payments import Payment

logger = build_logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
attributes = Attributes.from_env()
intake = wiring.intake(Settings.from_env())


class NotQueued(Exception):
    """The outbox did not take this receipt: the stream retries from this record."""


def _payment(record: DynamoDBRecord) -> Payment | None:
    change = record.dynamodb
    if change is None:
        return None
    event_name = record.event_name.name if record.event_name else None
    try:
        return completed_payment(event_name, change.old_image, change.new_image, attributes)
    except InvalidPayment as exc:
        intake.reject(exc.key, exc.reason, "payments-table")
        metrics.add_metric(name="PaymentsRejected", unit=MetricUnit.Count, value=1)
        return None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    records = list(DynamoDBStreamEvent(event).records)
    payments = {
        r.dynamodb.sequence_number: p for r in records if r.dynamodb and (p := _payment(r)) is not None
    }
    outcomes: dict[str | None, Outcome | None] = dict(
        zip(payments, intake.receipts(list(payments.values())), strict=True)
    )
    queued = sum(1 for o in outcomes.values() if o is not None and o.queued)
    if queued:
        metrics.add_metric(name="ReceiptsQueued", unit=MetricUnit.Count, value=queued)

    def record_handler(record: DynamoDBRecord) -> None:
        sequence = record.dynamodb.sequence_number if record.dynamodb else None
        if sequence in outcomes and outcomes[sequence] is None:
            raise NotQueued(f"receipt for {payments[sequence].reference} was not queued")

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
