"""Reconciler: on a schedule, what is due: scheduled messages go to the outbox, and the provider is
asked (getdlr) for the delivery reports its callback did not bring; after 72 hours without one, a
message is EXPIRED."""

from __future__ import annotations

import gc

# Everything init builds lives as long as the process, so the collections that run during the
# imports find no garbage; they cost about a tenth of the cold start (bench/cold_start.py).
# Back on at the end of the module, with init's objects frozen out of later collections.
gc.disable()

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from tuma.formatting.clock import now_utc
from tuma.runtime import wiring
from tuma.runtime.deadline import Deadline
from tuma.runtime.observability import CountingMetrics, build_logger
from tuma.runtime.settings import load
from tuma.runtime.settings.reconciler import ReconcilerSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = build_logger()
metrics = Metrics()
deadline = Deadline()
settings = load(ReconcilerSettings)
reconciler = wiring.reconciler(
    settings, CountingMetrics(metrics, settings.METRICS), time_left=deadline.seconds_left
)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deadline.start(context.get_remaining_time_in_millis())
    report = reconciler.run(now_utc())
    summary = {k: v for k, v in vars(report).items() if k != "seconds_to_final"}
    logger.info("reconciled", extra=summary)
    return summary


gc.freeze()
gc.enable()
