"""Daraja pull: on a schedule, every C2B payment M-Pesa lists for the business's short codes gets its
receipt, through the same intake and exactly-once path as a confirmation callback. Safaricom's
remedy for callbacks that never came (tuma.services.pull). Off, and cheap, without a Daraja secret.
"""

from __future__ import annotations

import gc

# Everything init builds lives as long as the process, so the collections that run during the
# imports find no garbage; they cost about a tenth of the cold start (bench/cold_start.py).
# Back on at the end of the module, with init's objects frozen out of later collections.
gc.disable()

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from tuma.errors import ConfigurationError
from tuma.runtime import api_clients, wiring
from tuma.runtime.deadline import Deadline
from tuma.runtime.observability import CountingMetrics, build_logger
from tuma.runtime.settings import load
from tuma.runtime.settings.daraja_pull import PullSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from tuma.services.pull import PullReconciler

logger = build_logger()
metrics = Metrics()
deadline = Deadline()
settings = load(PullSettings)
counts = CountingMetrics(metrics, settings.METRICS)
credentials = api_clients.daraja_credentials(settings)
# Built at the first run with a usable secret, then kept: its clients cost a cold start's worth each.
reconcilers: list[PullReconciler] = []


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deadline.start(context.get_remaining_time_in_millis())
    if credentials is None:
        return {"pulled": False, "reason": "no Daraja secret configured"}
    try:
        if credentials().placeholder:
            # Deployed with Daraja on but the secret not filled in yet: say so every run (tuma doctor too).
            logger.warning("the Daraja secret still holds its placeholder values: nothing pulled")
            counts.count("DarajaNotConfigured")
            return {"pulled": False, "reason": "the Daraja secret still holds REPLACE_ME"}
        if not reconcilers:
            reconcilers.append(
                wiring.pull_reconciler(settings, credentials, counts, time_left=deadline.seconds_left)
            )
    except ConfigurationError as error:
        logger.error("configuration error: %s", error)
        counts.count("DarajaNotConfigured")
        return {"pulled": False, "reason": str(error)}
    report = reconcilers[0].run()
    runs = [run.summary() for run in report.runs]
    logger.info("pulled", extra={"runs": runs})
    return {"pulled": not report.failed, "runs": runs, "unconfirmed": report.unconfirmed}


gc.freeze()
gc.enable()
