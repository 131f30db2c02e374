"""One batch on its way down the send path: what came in, and what the steps decide about each record.

Every step reads and adds to the same `Batch`: which records come back later and after how long,
which wait for a guard, what could never be sent, the metrics counted. The pipeline answers the
queue from it once every step has run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tuma.models.ledger import LedgerEntry
from tuma.models.outbox import OutboxMessage
from tuma.models.provider_codes import Disposition
from tuma.ports import MetricsSink


@dataclass(frozen=True)
class Inbound:
    """One queued outbox message, whatever carried it (an SQS record, a test)."""

    record_id: str
    body: str
    receive_count: int = 1


@dataclass(frozen=True)
class RecordOutcome:
    record_id: str
    retry: bool = False
    delay_seconds: int = 0
    reason: str | None = None


@dataclass(frozen=True)
class RetryDelays:
    """How long a message waits before it comes back, by what went wrong."""

    transient_base: int = 15
    transient_max: int = 900
    provider_asked: int = 300  # 4090 "try after 5 minutes"; 1004 until credit is topped up
    configuration: int = 600  # an operator has to act; do not spin
    busy: int | None = None  # another invocation holds the claim: twice the transient wait

    @property
    def busy_wait(self) -> int:
        return 2 * self.transient_base if self.busy is None else self.busy

    def for_result(self, disposition: Disposition, receive_count: int) -> int:
        if disposition is Disposition.RETRY_LATER:
            return self.provider_asked
        if disposition in (Disposition.CONFIG, Disposition.CREDENTIALS):
            return self.configuration
        return min(self.transient_max, self.transient_base << max(0, receive_count - 1))


class Tally:
    """Counted per batch and emitted once: one data point per metric, not one per message."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def count(self, name: str, value: float = 1) -> None:
        self._counts[name] += int(value)

    def flush(self, sink: MetricsSink) -> None:
        for name, value in sorted(self._counts.items()):
            sink.count(name, value)
        self._counts.clear()


@dataclass
class Batch:
    items: Sequence[Inbound]
    tally: Tally = field(default_factory=Tally)
    # The messages being sent now, by record (not those read as malformed, nor those held for later).
    messages: dict[str, OutboxMessage] = field(default_factory=dict)
    # What can never be sent (malformed, no recipient, a bad template...): recorded once, after planning.
    unsendable: list[LedgerEntry] = field(default_factory=list)
    # Ledger entries an interrupted attempt left QUEUED, completed from their claims: checked later too.
    completed: list[LedgerEntry] = field(default_factory=list)
    # Records whose messages wait for a guard, by how long: put back on their queue as fresh messages.
    parked: dict[str, int] = field(default_factory=dict)
    _retries: dict[str, RecordOutcome] = field(default_factory=dict)
    _inbound: dict[str, Inbound] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._inbound = {item.record_id: item for item in self.items}

    def receive_count(self, record_id: str) -> int:
        found = self._inbound.get(record_id)
        return found.receive_count if found else 1

    def body(self, record_id: str) -> str:
        return self._inbound[record_id].body

    def retry(self, record_id: str, delay: int, reason: str) -> None:
        """This record comes back after `delay` seconds (the longest any of its messages asks for)."""
        current = self._retries.get(record_id)
        if current is None or current.delay_seconds < delay:
            self._retries[record_id] = RecordOutcome(
                record_id, retry=True, delay_seconds=delay, reason=reason
            )

    def retried(self, record_id: str) -> bool:
        return record_id in self._retries

    def park(self, record_id: str, seconds: int) -> None:
        self.parked[record_id] = max(self.parked.get(record_id, 0), seconds)

    def outcomes(self) -> list[RecordOutcome]:
        return [self._retries.get(item.record_id, RecordOutcome(item.record_id)) for item in self.items]
