"""The current invocation's remaining time, for objects built once per container and reused."""

from __future__ import annotations

import math
import time


class Deadline:
    def __init__(self) -> None:
        self._ends_at: float | None = None

    def start(self, remaining_ms: int) -> None:
        self._ends_at = time.monotonic() + remaining_ms / 1000

    def seconds_left(self) -> float:
        return math.inf if self._ends_at is None else self._ends_at - time.monotonic()

    def ms_left(self) -> int:
        left = self.seconds_left()
        return 900_000 if math.isinf(left) else max(0, int(left * 1000))
