"""Outbox sender: the one place that calls the provider's send endpoints.

SQS batch in; each record is an outbox message (docs/design.md). Records that failed for a reason
worth retrying come back as batch item failures, postponed by how long the failure deserves;
everything else is settled in the ledger and deleted from the queue.
"""

from __future__ import annotations

import gc

# Everything init builds lives as long as the process, so the collections that run during the
# imports find no garbage; they cost about a tenth of the cold start (bench/cold_start.py).
# Back on at the end of the module, with init's objects frozen out of later collections.
gc.disable()

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from tuma.runtime import wiring
from tuma.runtime.batch import BatchResponse
from tuma.runtime.deadline import Deadline
from tuma.runtime.events import sqs_messages
from tuma.runtime.observability import CountingMetrics, build_logger
from tuma.runtime.redelivery import redeliver_later
from tuma.runtime.settings import load
from tuma.runtime.settings.outbox_sender import SenderSettings
from tuma.services.send_path.batch import Inbound

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = build_logger()
metrics = Metrics()
settings = load(SenderSettings)
deadline = Deadline()
dispatcher = wiring.outbox_dispatcher(
    settings, CountingMetrics(metrics, settings.METRICS), time_left=deadline.seconds_left
)
visibility = wiring.visibility(settings.OUTBOX_QUEUE_URL, settings.FAST_OUTBOX_QUEUE_URL)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> BatchResponse:
    deadline.start(context.get_remaining_time_in_millis())
    records = {r.message_id: r for r in sqs_messages(event)}
    inbound = [Inbound(r.message_id, r.body, r.receive_count) for r in records.values()]
    outcomes = dispatcher.dispatch(inbound, deadline.ms_left)
    return redeliver_later(visibility, records, [(o.record_id, o.delay_seconds) for o in outcomes if o.retry])


gc.freeze()
gc.enable()
