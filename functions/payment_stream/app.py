"""Payments stream: a payment that becomes COMPLETED in the payments table gets its receipt queued.

Keyed by the payment's reference, the same key the webhooks use: a payment seen by Daraja and by
the table sends one SMS. Items that can never make a receipt are recorded and skipped; a record
fails (and the stream retries from it) only when the outbox could not take its receipt.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBStreamEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from tuma.models.payments import Payment
from tuma.runtime import wiring
from tuma.runtime.batch import BatchResponse, item_failures
from tuma.runtime.observability import CountingMetrics, build_logger
from tuma.runtime.settings import StreamSettings, load
from tuma.services.payment_stream import InvalidPayment, completed_payment

logger = build_logger()
tracer = Tracer()
metrics = Metrics()
counts = CountingMetrics(metrics)
settings = load(StreamSettings)
attributes = settings.attributes()
intake = wiring.intake(settings)


def _payment(record: DynamoDBRecord) -> Payment | None:
    change = record.dynamodb
    if change is None:
        return None
    event_name = record.event_name.name if record.event_name else None
    try:
        return completed_payment(event_name, change.old_image, change.new_image, attributes)
    except InvalidPayment as exc:
        intake.reject(exc.key, exc.reason, "payments-table")
        counts.count("PaymentsRejected")
        return None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> BatchResponse:
    payments: dict[str, Payment] = {}
    for record in DynamoDBStreamEvent(event).records:
        payment = _payment(record)
        if payment is not None and record.dynamodb and record.dynamodb.sequence_number:
            payments[record.dynamodb.sequence_number] = payment
    outcomes = intake.receipts(list(payments.values()))
    queued = sum(1 for o in outcomes if o is not None and o.queued)
    if queued:
        counts.count("ReceiptsQueued", queued)
    return item_failures(sequence for sequence, o in zip(payments, outcomes, strict=True) if o is None)
