"""Payments stream: a payment that becomes COMPLETED in the payments table gets its receipt queued.

Keyed by the payment's reference, the same key the webhooks use: a payment seen by Daraja and by
the table sends one SMS. Items that can never make a receipt are recorded and skipped; a record
fails (and the stream retries from it) only when the outbox could not take its receipt.
"""

from __future__ import annotations

import gc

# Everything init builds lives as long as the process, so the collections that run during the
# imports find no garbage; they cost about a tenth of the cold start (bench/cold_start.py).
# Back on at the end of the module, with init's objects frozen out of later collections.
gc.disable()

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from tuma.models.payments import InvalidPayment, Payment
from tuma.models.sources import PaymentSource
from tuma.runtime import wiring
from tuma.runtime.batch import BatchResponse, item_failures
from tuma.runtime.events import StreamRecord, stream_records
from tuma.runtime.observability import CountingMetrics, build_logger
from tuma.runtime.settings import load
from tuma.runtime.settings.payment_stream import StreamSettings
from tuma.services.payment_stream import completed_payment

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = build_logger()
metrics = Metrics()
settings = load(StreamSettings)
counts = CountingMetrics(metrics, settings.METRICS)
attributes = settings.attributes()
intake = wiring.intake(settings)


def _payment(record: StreamRecord) -> Payment | None:
    try:
        images = record.images()
    except (
        ValueError,
        TypeError,
        KeyError,
        ArithmeticError,
    ) as exc:  # an attribute Lambda could not have sent
        problem = InvalidPayment(f"payment:{record.event_id}", f"stream record is malformed: {exc}")
    else:
        try:
            return completed_payment(record.event_name, images[1], images[2], attributes, images[0])
        except InvalidPayment as exc:
            problem = exc
    counts.count(intake.invalid(problem, PaymentSource.PAYMENTS_TABLE).fate.value)
    return None


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> BatchResponse:
    payments: dict[str, Payment] = {}
    for record in stream_records(event):
        payment = _payment(record)
        if payment is not None and record.sequence_number:
            payments[record.sequence_number] = payment
    outcomes = intake.receipts(list(payments.values()))
    for outcome in outcomes:
        if outcome is not None:
            counts.count(outcome.fate.value)
    return item_failures(sequence for sequence, o in zip(payments, outcomes, strict=True) if o is None)


gc.freeze()
gc.enable()
