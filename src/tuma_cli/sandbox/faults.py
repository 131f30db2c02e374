"""Fault injection for the simulator: what a flaky provider, proxy or network does to a request.

| kind    | what the caller sees                                                       | was it sent? |
|---------|----------------------------------------------------------------------------|--------------|
| `5xx`   | HTTP 502 with an HTML body (a proxy in front of the platform)              | no           |
| `empty` | HTTP 200 with an empty body                                                | no           |
| `drop`  | the connection closes with no answer                                       | no           |
| `slow`  | no answer for `slow_seconds`; a caller that gave up by then is not served  | no           |
| `4090`  | `{"response-code": 4090}`: internal error, try again after 5 minutes       | no           |
| `1005`  | `{"response-code": 1005}`: system error                                    | no           |
| `lost`  | the platform accepts the request, then the connection drops (ambiguous)    | yes          |
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ("5xx", "empty", "drop", "slow", "4090", "1005", "lost")


@dataclass
class FaultPlan:
    rate: float = 0.0
    kinds: tuple[str, ...] = ("5xx",)
    count: int | None = None  # inject into the next N requests regardless of rate, then stop
    slow_seconds: float = 3.0
    seed: int | None = None
    injected: dict[str, int] = field(default_factory=dict)
    _random: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.reset(self.rate, self.kinds, self.count, self.slow_seconds, self.seed)

    def reset(
        self,
        rate: float = 0.0,
        kinds: tuple[str, ...] | list[str] = ("5xx",),
        count: int | None = None,
        slow_seconds: float = 3.0,
        seed: int | None = None,
    ) -> None:
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {', '.join(KINDS)}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        with self._lock:
            self.rate, self.kinds, self.count = rate, tuple(kinds), count
            self.slow_seconds, self.seed = slow_seconds, seed
            self._random = random.Random(seed)
            self.injected = {}

    def next(self) -> str | None:
        with self._lock:
            if not self.kinds:
                return None
            if self.count is not None:
                if self.count <= 0:
                    return None
                self.count -= 1
            elif self._random.random() >= self.rate:
                return None
            kind = self._random.choice(self.kinds)
            self.injected[kind] = self.injected.get(kind, 0) + 1
            return kind

    def describe(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "kinds": list(self.kinds),
            "count": self.count,
            "slow_seconds": self.slow_seconds,
            "seed": self.seed,
            "injected": dict(self.injected),
        }
