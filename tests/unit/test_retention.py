"""The retention schedule's sweep: oldest day first, a few pages a run, carrying on where it stopped."""

from __future__ import annotations

from datetime import UTC, datetime

from tuma.services.retention import RetentionSweep

from tests.unit.fakes import MemoryRetention

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # 12:00 in Nairobi


def _record(n: int) -> dict[str, object]:
    return {"key": f"k{n}", "status": "DELIVERED", "parts": 1, "recipient": "2547*****678", "text": f"hi {n}"}


def test_personal_fields_go_after_the_retention_days_and_billing_fields_stay() -> None:
    store = MemoryRetention(
        {
            "2026-09-02": [
                _record(1),
                {"key": "pay", "payer": "254712345678", "account": "A1", "amount": "50"},
            ],
            "2026-09-03": [_record(2)],  # 90 days ago: the newest day due
        }
    )
    sweep = RetentionSweep(store, 90, oldest_days=92, clock=lambda: NOW)
    assert sweep.last_day().isoformat() == "2026-09-03"
    assert sweep.run() == 3
    assert store.days["2026-09-02"] == [
        {"key": "k1", "status": "DELIVERED", "parts": 1, "recipient": "2547*****678"},
        {"key": "pay", "amount": "50"},
    ]
    assert store.saved == ("2026-09-04", None)
    store.queries.clear()
    assert sweep.run() == 0 and store.queries == []  # nothing more is due until tomorrow


def test_a_long_day_is_swept_over_several_runs_from_its_checkpoint() -> None:
    store = MemoryRetention({"2026-09-03": [_record(n) for n in range(25)]})
    sweep = RetentionSweep(store, 90, oldest_days=90, pages_per_run=2, page_size=10, clock=lambda: NOW)
    assert sweep.run() == 20 and store.saved == ("2026-09-03", {"at": 20})
    assert [sweep.run(), store.saved] == [5, ("2026-09-04", None)]
    assert all("text" not in r for r in store.days["2026-09-03"])


def test_zero_days_keeps_everything() -> None:
    store = MemoryRetention({"2026-12-01": [_record(1)]})
    assert RetentionSweep(store, 0, clock=lambda: NOW).run() == 0
    assert store.queries == [] and store.saved is None
