"""How many messages one `sendbulk` may carry, learnt from the brand and remembered across invocations.

The API does not say its limit: a list that is too long is refused whole with code 1012, and the
documented limits are 20 on some brands and 1000 on others. A refused list costs a call, so what was
learnt is kept in the state table, and every later invocation (a cold one too) starts from it instead
of learning it again. Above what is known to pass, the limit is probed now and then, halving the gap
each time, so a brand whose real limit lies between two documented values is found in a few probes
rather than never.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuma.ports import StateStore

log = logging.getLogger(__name__)

# sms-api.md: "docs say 20 on some [brands], 1000 on others". After a refusal this is tried first.
DOCUMENTED_SMALL = 20


@dataclass
class Learnt:
    passed: int = 0  # the longest list the brand took
    refused: int = 0  # the shortest it refused (0: none refused yet)
    probed_at: float = 0.0


class BulkLimit:
    """The list size to use now, from the configured limit and what the brand taught.

    Without a store (operator commands, unit tests) what is learnt lasts for the process."""

    def __init__(
        self,
        configured: int,
        store: StateStore | None = None,
        name: str = "",
        *,
        probe_every_seconds: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.configured = configured
        self._store = store
        self._name = f"bulk-limit#{name}"
        self._probe_every = probe_every_seconds
        self._clock = clock
        self._learnt: Learnt | None = None

    @property
    def learnt(self) -> Learnt:
        if self._learnt is None:
            self._learnt = self._load()
        return self._learnt

    def size(self, pending: int) -> int:
        """How many of `pending` messages to put in the next call."""
        learnt = self.learnt
        if not learnt.refused:
            return min(pending, self.configured)
        usable = min(learnt.passed or self._after_refusal(learnt.refused), self.configured)
        gap_open = learnt.refused - usable > 1 and pending > usable
        if gap_open and self._clock() - learnt.probed_at >= self._probe_every:
            learnt.probed_at = self._clock()
            self._save()
            probe = min((usable + learnt.refused) // 2, self.configured)
            if probe > usable:
                log.info("probing the provider's sendbulk limit with %d messages", probe)
                return min(pending, probe)
        return min(pending, usable)

    def passed(self, count: int) -> None:
        learnt = self.learnt
        if count > learnt.passed:
            learnt.passed = count
            if learnt.refused:  # nothing to remember while the configured limit simply works
                self._save()

    def refused(self, count: int) -> int:
        """Record a refused list; the size to retry its messages with."""
        learnt = self.learnt
        learnt.refused = min(learnt.refused or count, count)
        if learnt.passed >= count:  # the brand lowered its limit
            learnt.passed = 0
        learnt.probed_at = self._clock()
        self._save()
        return learnt.passed or self._after_refusal(count)

    @staticmethod
    def _after_refusal(count: int) -> int:
        return DOCUMENTED_SMALL if count > DOCUMENTED_SMALL else max(1, count // 2)

    def _load(self) -> Learnt:
        if self._store is None:
            return Learnt()
        try:
            value = self._store.read(self._name) or {}
            return Learnt(
                passed=int(value.get("passed", 0)),
                refused=int(value.get("refused", 0)),
                probed_at=float(value.get("probed_at", 0.0)),
            )
        except Exception:  # memory is an optimisation: never let it stop a send
            log.warning("could not read the learnt sendbulk limit", exc_info=True)
            return Learnt()

    def _save(self) -> None:
        if self._store is None or self._learnt is None:
            return
        try:
            self._store.write(self._name, asdict(self._learnt))
        except Exception:
            log.warning("could not store the learnt sendbulk limit", exc_info=True)
