"""The credit balance: measured on a schedule, one alert per crossing below the threshold.

"Once per crossing" needs memory between runs: a state item records whether the balance is low, and
only the run that flips it (a conditional write, so two overlapping runs cannot both win) queues the
alert. Recovery resets it silently; the next fall below the threshold alerts again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tuma.models.outbox import OutboxMessage
from tuma.models.sources import OwnSource
from tuma.ports import BalanceReader, LowState, OutboxQueue

log = logging.getLogger(__name__)
STATE = "provider-credit"


@dataclass(frozen=True)
class BalanceCheck:
    credit: Decimal
    low: bool
    alerted: bool


class BalanceMonitor:
    def __init__(
        self,
        provider: BalanceReader,
        state: LowState,
        queue: OutboxQueue,
        threshold: Decimal,
        language: str = "en",
        *,
        name: str | None = None,
    ) -> None:
        # `name` tells the secondary provider's monitor apart (its own state and alert wording).
        self._name = name
        self._state_name = f"{STATE}-{name}" if name else STATE
        self._provider = provider
        self._state = state
        self._queue = queue
        self._threshold = threshold
        self._language = language

    def check(self, now: datetime) -> BalanceCheck:
        credit = self._provider.get_balance().credit
        low = credit < self._threshold
        at = now.isoformat(timespec="seconds")
        if not self._state.flip(self._state_name, low, at) or not low:
            return BalanceCheck(credit, low, alerted=False)
        alert = OutboxMessage(
            idempotency_key=f"low-credit:{self._name}:{at}" if self._name else f"low-credit:{at}",
            template="low_credit",
            data={"credit": f"{credit:,.2f}", "threshold": f"{self._threshold:,.2f}"}
            | ({"provider": self._name} if self._name else {}),
            language=self._language,
            source=OwnSource.BALANCE_MONITOR,
        )
        try:
            self._queue.put(alert)
        except Exception:
            self._state.flip(
                self._state_name, False, at
            )  # so the next run sees the crossing again and retries
            raise
        log.warning("provider credit %s is below %s: alert queued", credit, self._threshold)
        return BalanceCheck(credit, low, alerted=True)
