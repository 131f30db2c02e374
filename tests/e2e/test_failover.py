"""Failover, driven from outside: `tuma local up --secondary-provider`, the primary simulator failing
every request, receipts posted as Daraja would, phones read at both simulators."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import shared_fixture
from tests.e2e.conftest import ALERT_RECIPIENTS, Local, running_local


@pytest.fixture(scope="module")
def local() -> Iterator[Local]:
    with running_local(f"AlertRecipients={ALERT_RECIPIENTS}", options=("--secondary-provider",)) as topology:
        yield topology


def _at(local: Local, simulator: str) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = local.simulator_at(simulator, "/_sandbox/outbox")
    return sent


def _receipts(local: Local, prefix: str, count: int) -> tuple[list[str], float]:
    body = shared_fixture("mpesa/c2b_confirmation_request_legacy_docs.json")
    references = [f"{prefix}{n:04d}" for n in range(count)]
    started = time.time()
    for reference in references:
        answer = local.post("/payments/c2b/confirmation/{token}", body | {"TransID": reference})
        assert answer.status_code == 200, answer.text
        time.sleep(0.2)
    return references, started


def _carried(local: Local, references: list[str]) -> dict[str, Counter[str]]:
    """How many SMS each receipt got at each simulator."""
    counts: dict[str, Counter[str]] = {}
    for name in ("simulator_url", "secondary_simulator_url"):
        texts = [sms["message"] for sms in _at(local, name)]
        counts[name] = Counter(r for r in references for text in texts if text.startswith(r))
    return counts


def test_ready_names_the_secondary_simulator(local: Local) -> None:
    assert local.ready["secondary_simulator_url"].startswith("http://127.0.0.1:")
    assert local.ready["secondary_simulator_url"] != local.ready["simulator_url"]


def test_a_dead_primary_sends_everything_once_through_the_secondary_and_traffic_returns_when_it_heals(
    local: Local,
) -> None:
    # The primary fails every request, definitely (it never takes the message): 5xx, 1005, 4090.
    local.simulator_at(
        "simulator_url", "/_sandbox/faults", "POST", json={"rate": 1.0, "kinds": ["5xx", "1005", "4090"]}
    )
    references, started = _receipts(local, "FOV", 12)

    def all_carried() -> dict[str, Counter[str]] | None:
        counts = _carried(local, references)
        return counts if sum(counts["secondary_simulator_url"].values()) >= len(references) else None

    counts = local.wait_for(all_carried, timeout=90, what="every receipt at the secondary")
    time.sleep(2)  # anything sent twice would show now
    counts = _carried(local, references)
    assert counts["secondary_simulator_url"] == Counter(dict.fromkeys(references, 1))
    assert not counts["simulator_url"], "a receipt reached the primary as well"
    first_at_secondary = min(
        sms["accepted_at"]
        for sms in _at(local, "secondary_simulator_url")
        if sms["message"].startswith(tuple(references))
    )
    switch = first_at_secondary - started

    # The ledger says which provider carried each, and the secondary's reports settled them.
    def delivered() -> bool:
        entries = [e for r in references for e in local.ledger(r)]
        return len(entries) == len(references) and all(e["status"] == "DELIVERED" for e in entries)

    local.wait_for(delivered, timeout=30, what="secondary delivery reports applied")
    assert {e["provider"] for r in references for e in local.ledger(r)} == {"secondary"}
    # The alert recipients heard about it, through the secondary (the primary is down).
    alerts = [s for s in _at(local, "secondary_simulator_url") if "provider down" in s["message"]]
    assert {s["mobile"] for s in alerts} == {"254722000111", "254733000222"}

    # The primary heals: the next probe finds it and new receipts go there again.
    healed_at = time.time()
    local.simulator_at("simulator_url", "/_sandbox/faults", "POST", json={"rate": 0.0})
    back_refs: list[str] = []

    def back_at_primary() -> bool:
        references_, _ = _receipts(local, f"BCK{len(back_refs):02d}", 1)
        back_refs.extend(references_)
        return bool(_carried(local, back_refs)["simulator_url"])

    local.wait_for(back_at_primary, timeout=60, what="traffic back at the primary")
    back = min(
        sms["accepted_at"]
        for sms in _at(local, "simulator_url")
        if sms["message"].startswith(tuple(back_refs))
    )
    counts = _carried(local, back_refs)
    assert all(counts["simulator_url"][r] + counts["secondary_simulator_url"][r] == 1 for r in back_refs)
    assert any("provider back" in s["message"] for s in _at(local, "simulator_url"))
    print(
        f"\nfailover: {len(references)} receipts, {len(references)} at the secondary, 0 at the primary, "
        f"0 twice; first at the secondary {switch:.1f} s after the outage began; "
        f"back at the primary {back - healed_at:.1f} s after it healed"
    )
