"""Status events: the ledger's stream in, one event per status change out, onto the status-events
FIFO queue (one ordered group per message and recipient) for functions/status_notifier to deliver."""

from __future__ import annotations

import gc

# Everything init builds lives as long as the process, so the collections that run during the
# imports find no garbage; they cost about a tenth of the cold start (bench/cold_start.py).
# Back on at the end of the module, with init's objects frozen out of later collections.
gc.disable()

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from tuma.runtime import wiring
from tuma.runtime.batch import BatchResponse, item_failures
from tuma.runtime.events import stream_records
from tuma.runtime.observability import CountingMetrics, build_logger
from tuma.runtime.settings import load
from tuma.runtime.settings.status_events import StatusEventSettings
from tuma.services.status_events import Change

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = build_logger()
metrics = Metrics()
settings = load(StatusEventSettings)
publisher = wiring.status_publisher(settings, CountingMetrics(metrics, settings.METRICS))


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> BatchResponse:
    changes = []
    for record in stream_records(event):
        if not record.sequence_number:
            continue
        try:
            _, old, new = record.images()
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            # An image DynamoDB could not have written: no status change to push, and retrying it
            # would hold the stream's later changes back forever.
            logger.warning("ledger change %s unreadable, no event: %s", record.event_id, exc)
            continue
        changes.append(Change(record.sequence_number, old, new))
    return item_failures(publisher.publish(changes))


gc.freeze()
gc.enable()
