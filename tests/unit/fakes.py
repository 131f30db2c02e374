"""In-memory stand-ins for the adapters at the edge (provider, DynamoDB), for domain unit tests only.

Integration and end-to-end tests use the real adapters against moto and the provider simulator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from tuma.models.ledger import DeliveryUpdate, LedgerEntry, Status
from tuma.ports import BulkMessage, ClaimState, SendResult
from tuma.provider.codes import Disposition

OK = SendResult(Disposition.SUCCESS, "Success", 200, "m-1")


class FakeSender:
    def __init__(self, decide: Callable[[str, str], SendResult] | None = None) -> None:
        self.decide = decide or (lambda mobile, text: OK)
        self.bulk_calls: list[list[BulkMessage]] = []
        self.otp_calls: list[tuple[str, str, bool]] = []
        self._ids = 0

    def _result(self, mobile: str, text: str) -> SendResult:
        result = self.decide(mobile, text)
        if result.accepted:
            self._ids += 1
            result = SendResult(result.disposition, result.description, 200, f"m-{self._ids}")
        return result

    def send_bulk(self, messages: Sequence[BulkMessage]) -> dict[str, SendResult]:
        self.bulk_calls.append(list(messages))
        return {m.client_sms_id: self._result(m.mobile, m.message) for m in messages}

    def send_otp(self, mobile: str, message: str, *, hashed: bool = False) -> SendResult:
        self.otp_calls.append((mobile, message, hashed))
        return self._result(mobile, message)

    @property
    def sent(self) -> list[tuple[str, str]]:
        return [(m.mobile, m.message) for call in self.bulk_calls for m in call] + [
            (mobile, text) for mobile, text, _ in self.otp_calls
        ]


class MemoryLedger:
    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], LedgerEntry] = {}

    def write(self, entries: Sequence[LedgerEntry]) -> None:
        for entry in entries:
            self.entries[(entry.idempotency_key, entry.recipient_ref)] = entry

    def record_unsendable(self, entries: Sequence[LedgerEntry]) -> None:
        for entry in entries:
            current = self.entries.get((entry.idempotency_key, entry.recipient_ref))
            if current is None or current.status in (Status.REJECTED, Status.UNDELIVERABLE):
                self.entries[(entry.idempotency_key, entry.recipient_ref)] = entry

    def get(self, idempotency_key: str) -> list[LedgerEntry]:
        return [e for (k, _), e in sorted(self.entries.items()) if k == idempotency_key]

    def apply_delivery(self, update: DeliveryUpdate) -> str:
        raise NotImplementedError

    def statuses(self) -> Counter[str]:
        return Counter(e.status.value for e in self.entries.values())


class MemoryClaims:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict[str, Any] | None] = {}

    def claim(self, idempotency_key: str, recipient_ref: str, remaining_ms: int | None) -> ClaimState:
        key = (idempotency_key, recipient_ref)
        if key not in self.records:
            self.records[key] = None
            return ClaimState.NEW
        return ClaimState.DONE if self.records[key] is not None else ClaimState.BUSY

    def settle(self, idempotency_key: str, recipient_ref: str, result: dict[str, Any]) -> None:
        self.records[(idempotency_key, recipient_ref)] = result

    def release(self, idempotency_key: str, recipient_ref: str) -> None:
        self.records.pop((idempotency_key, recipient_ref), None)


class ListMetrics:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def count(self, name: str, value: float = 1) -> None:
        self.counts[name] += int(value)
