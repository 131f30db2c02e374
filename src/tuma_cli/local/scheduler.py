"""EventBridge schedules, locally: `rate(...)` expressions invoke their function on time.

A `cron(...)` expression is run hourly here (its exact times do not matter on a laptop), and every
schedule fires once shortly after start so that its effect can be seen without waiting.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tuma_cli.local.template import ACCOUNT, REGION

log = logging.getLogger(__name__)
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def period_of(expression: str) -> float:
    match = _RATE.match(expression.strip())
    if match:
        return int(match.group(1)) * _SECONDS[match.group(2).rstrip("s")]
    return 3600.0


def scheduled_event(rule: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"],
        "detail": {},
    }


class Schedule:
    def __init__(
        self, rule: str, expression: str, invoke: Callable[[dict[str, Any]], Any], first_after: float = 1.0
    ):
        self.rule = rule
        self.period = period_of(expression)
        self._invoke = invoke
        self._first_after = first_after
        self.invocations = 0

    def fire(self) -> Any:
        self.invocations += 1
        return self._invoke(scheduled_event(self.rule))

    def run(self, stop: threading.Event) -> None:
        wait = self._first_after
        while not stop.wait(wait):
            try:
                self.fire()
            except Exception as exc:
                log.warning("scheduled invocation of %s failed: %s", self.rule, exc)
            wait = self.period
