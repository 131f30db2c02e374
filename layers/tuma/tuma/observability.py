"""Structured logging that cannot leak: every line passes through the redactor before it is written."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from tuma.powertools_version import older_than_tested
from tuma.redaction import scrub_text


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


class MetricsSink(Protocol):
    """What the domain needs from a metrics library: counts and sizes, nothing Lambda-specific."""

    def count(self, name: str, value: float = 1) -> None: ...


class NullMetrics:
    def count(self, name: str, value: float = 1) -> None:
        return None


class CallbackMetrics:
    """Adapts any `add(name, value)` callable, such as Powertools Metrics, to MetricsSink."""

    def __init__(self, add: Callable[[str, float], None]) -> None:
        self._add = add

    def count(self, name: str, value: float = 1) -> None:
        self._add(name, value)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
