"""Balance monitor: on a schedule, the provider's credit becomes a metric, and a fall below the
threshold becomes one alert SMS to ALERT_RECIPIENTS (and the LowCredit alarm, from the metric)."""

from __future__ import annotations

import gc

# Everything init builds lives as long as the process, so the collections that run during the
# imports find no garbage; they cost about a tenth of the cold start (bench/cold_start.py).
# Back on at the end of the module, with init's objects frozen out of later collections.
gc.disable()

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from tuma.formatting.clock import now_utc
from tuma.runtime import wiring
from tuma.runtime.observability import build_logger
from tuma.runtime.settings import load
from tuma.runtime.settings.balance_monitor import BalanceSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = build_logger()
metrics = Metrics()
monitors = wiring.balance_monitors(load(BalanceSettings))
# The LowCredit alarm and the dashboard read ProviderCredit: the primary keeps that name.
METRIC = {"primary": "ProviderCredit", "secondary": "SecondaryProviderCredit"}


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    failed: Exception | None = None
    for name, monitor in monitors.items():
        try:
            check = monitor.check(now_utc())
        except Exception as exc:  # one provider unreachable must not hide the other's credit
            logger.exception("%s provider credit could not be read", name)
            failed = exc
            continue
        metrics.add_metric(name=METRIC[name], unit=MetricUnit.Count, value=float(check.credit))
        logger.info(
            "%s provider credit %s (low: %s, alerted: %s)", name, check.credit, check.low, check.alerted
        )
        answer[name] = {"credit": str(check.credit), "low": check.low, "alerted": check.alerted}
    if failed is not None:
        raise failed  # the function's error metric and alarm see it
    primary: dict[str, Any] = answer["primary"]
    return primary | ({"secondary": answer["secondary"]} if "secondary" in answer else {})


gc.freeze()
gc.enable()
