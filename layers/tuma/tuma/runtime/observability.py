"""Logs that cannot leak (every line passes the redactor before it is written) and metrics as counts."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

from tuma.ports import MetricsSink
from tuma.runtime.powertools_version import older_than_tested
from tuma.security.redaction import scrub_text


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with phone numbers masked and known secrets removed."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        return scrub_text(super().serialize(log))


_loggers: dict[str | None, Logger] = {}


def build_logger(service: str | None = None) -> Logger:
    """The function's Powertools Logger; the `tuma` package's own loggers share its formatter.

    One per service and process: Powertools leaves a second Logger on an already configured name
    without a formatter (it happens when a handler module is loaded twice, as tests do).
    """
    if service not in _loggers:
        logger = Logger(service=service, logger_formatter=RedactingFormatter())
        copy_config_to_registered_loggers(source_logger=logger, include={"tuma"})
        _loggers[service] = logger
        warning = older_than_tested()
        if warning:
            logger.warning(warning)
    return _loggers[service]


# What a stack with Observability=lean emits: the metrics its alarms read (credit, delivery failure
# rate, payments that make no receipt, the pull's health, forged callbacks) and the console's credit
# chart: thirteen names, ten of them always emitted (within CloudWatch's ten free custom metrics; the
# two that say something is wrong carry data only then);
# tests/e2e/test_template.py holds the alarms of a lean stack to this set.
ESSENTIAL_METRICS = frozenset(
    {
        "ProviderCredit",
        "SecondaryProviderCredit",
        "MessagesSentBySecondary",
        "PaymentsRejected",
        "DeliveriesDelivered",
        "DeliveriesFailed",
        "PaymentsSeenByPull",
        "PaymentsRecoveredByPull",
        "DarajaPullFailed",
        "DarajaNotConfigured",
        "DarajaCallbacksRefused",
        "PaymentsUnconfirmed",
        "ProviderConfigurationErrors",
        "ReceiptsQueued",  # PaymentsSilent (SilenceAlarmHours) reads it
    }
)

# Emitted only when something is wrong (a forged Daraja callback the function refused, a callback's
# payment M-Pesa's own record does not have), so they cost nothing in a month without one:
# CloudWatch bills a metric for the hours it receives data.
ONLY_WHEN_WRONG = frozenset({"DarajaCallbacksRefused", "PaymentsUnconfirmed", "ProviderConfigurationErrors"})


class CountingMetrics(MetricsSink):
    """Powertools Metrics as the domain's MetricsSink: every Tuma metric is a count. With
    `METRICS=lean` (template parameter Observability) only ESSENTIAL_METRICS are emitted: each
    custom metric costs USD 0.30 a month past the first ten."""

    def __init__(self, metrics: Metrics, level: str = "full") -> None:
        self._metrics = metrics
        self._lean = level == "lean"

    def count(self, name: str, value: float = 1) -> None:
        if self._lean and name not in ESSENTIAL_METRICS:
            return
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def measure(self, name: str, seconds: float) -> None:
        if self._lean and name not in ESSENTIAL_METRICS:
            return
        self._metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=seconds)
