"""Balance monitor: on a schedule, the provider's credit becomes a metric, and a fall below the
threshold becomes one alert SMS to ALERT_RECIPIENTS (and the LowCredit alarm, from the metric)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from tuma.formatting.clock import now_utc
from tuma.runtime import wiring
from tuma.runtime.observability import build_logger
from tuma.runtime.settings import BalanceSettings, load

logger = build_logger()
metrics = Metrics()
monitor = wiring.balance_monitor(load(BalanceSettings))


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    check = monitor.check(now_utc())
    metrics.add_metric(name="ProviderCredit", unit=MetricUnit.Count, value=float(check.credit))
    logger.info("provider credit %s (low: %s, alerted: %s)", check.credit, check.low, check.alerted)
    return {"credit": str(check.credit), "low": check.low, "alerted": check.alerted}
