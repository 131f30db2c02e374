"""Status notifier: each status event POSTed to the business's StatusCallbackUrl, signed like Tuma's
own webhooks. A receiver that is down loses nothing: the event comes back (later each time) and, in
its message's order, goes when the receiver answers 2xx; after many tries it waits in the DLQ."""

from __future__ import annotations

import gc

# Everything init builds lives as long as the process, so the collections that run during the
# imports find no garbage; they cost about a tenth of the cold start (bench/cold_start.py).
# Back on at the end of the module, with init's objects frozen out of later collections.
gc.disable()

import time
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from tuma.adapters.http import Urllib3Http
from tuma.adapters.sqs_visibility import Postponement, SqsVisibility
from tuma.ports import HttpFailure
from tuma.runtime import wiring
from tuma.runtime.aws import client
from tuma.runtime.batch import BatchResponse, item_failures
from tuma.runtime.events import sqs_messages
from tuma.runtime.observability import CountingMetrics, build_logger
from tuma.runtime.settings import load
from tuma.runtime.settings.status_notifier import StatusNotifierSettings
from tuma.services.status_events import signed_headers

logger = build_logger()
metrics = Metrics()
settings = load(StatusNotifierSettings)
counts = CountingMetrics(metrics, settings.METRICS)
secrets = wiring.webhook_secrets(settings)
http = Urllib3Http(connect_timeout=3.0, read_timeout=10.0)
visibility = SqsVisibility(lambda: client("sqs"), known_urls=[settings.STATUS_EVENTS_QUEUE_URL])


def _deliver(body: str, event_id: str) -> str | None:
    """None when the receiver took it; otherwise why not (the URL itself is never logged)."""
    raw = body.encode()
    key = secrets.current().hmac_key.get_secret_value().encode()
    try:
        answer = http.post(
            settings.STATUS_CALLBACK_URL,
            raw,
            signed_headers(raw, key, str(int(time.time())), event_id),
        )
    except HttpFailure as exc:
        return exc.kind
    return None if 200 <= answer.status < 300 else f"HTTP {answer.status}"


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> BatchResponse:
    failed, delivered = [], 0
    blocked: set[str] = set()
    records = sqs_messages(event)
    for record in records:
        group = record.group_id
        if group in blocked:  # a FIFO group goes in order: behind a failed event, its later ones wait
            failed.append(record)
            continue
        problem = _deliver(record.body, record.message_id)
        if problem is None:
            delivered += 1
            continue
        logger.warning("status event not delivered: %s", problem)
        blocked.add(group)
        failed.append(record)
    if delivered:
        counts.count("StatusEventsDelivered", delivered)
    if failed:
        counts.count("StatusEventsRetried", len(failed))
        visibility.postpone(
            [
                Postponement(
                    r.event_source_arn,
                    r.receipt_handle,
                    min(900, 5 * 2**r.receive_count),
                )
                for r in failed
                if r.event_source_arn
            ]
        )
    return item_failures(r.message_id for r in failed)


gc.freeze()
gc.enable()
