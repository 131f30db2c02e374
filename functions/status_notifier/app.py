"""Status notifier: each status event POSTed to the business's StatusCallbackUrl, signed like Tuma's
own webhooks. A receiver that is down loses nothing: the event comes back (later each time) and, in
its message's order, goes when the receiver answers 2xx; after many tries it waits in the DLQ."""

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
from tuma.runtime.events import sqs_messages
from tuma.runtime.observability import CountingMetrics, build_logger
from tuma.runtime.redelivery import redeliver_later
from tuma.runtime.settings import load
from tuma.runtime.settings.status_notifier import StatusNotifierSettings
from tuma.services.status_events import Waiting

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = build_logger()
metrics = Metrics()
settings = load(StatusNotifierSettings)
notifier = wiring.status_notifier(settings, CountingMetrics(metrics, settings.METRICS))
visibility = wiring.visibility(settings.STATUS_EVENTS_QUEUE_URL)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> BatchResponse:
    records = {r.message_id: r for r in sqs_messages(event)}
    refused = notifier.deliver(
        [Waiting(r.message_id, r.body, r.group_id, r.receive_count) for r in records.values()]
    )
    return redeliver_later(visibility, records, [(r.record_id, r.delay_seconds) for r in refused])


gc.freeze()
gc.enable()
