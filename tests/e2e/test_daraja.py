"""Daraja end to end: `tuma local up --daraja` in its own process, driven from outside only.

Fifty customers pay; a third of their confirmations never come, some come late. Every payment still
ends with exactly one receipt, the recovered ones learnt by pull; registering twice succeeds twice;
the finance view lists every payment. The figures the issue asks for are printed (run with -s).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Local, running_local, tuma_local

pytestmark = pytest.mark.e2e
PAYMENTS = 50


@pytest.fixture(scope="module")
def daraja(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Local, Path]]:
    ready_file = tmp_path_factory.mktemp("daraja") / "ready.json"
    with running_local(ready_file=ready_file, options=("--daraja",)) as topology:
        yield topology, ready_file


def _daraja(local: Local, path: str, method: str = "GET", **kwargs: Any) -> dict[str, Any]:
    answer: dict[str, Any] = local.simulator_at("daraja_simulator_url", path, method, **kwargs)
    return answer


def test_registering_twice_succeeds_twice_and_says_already_registered(daraja: tuple[Local, Path]) -> None:
    local, ready_file = daraja
    first = tuma_local(ready_file, "daraja", "register", "--json")
    assert first.returncode == 0, first.stderr
    outcomes = [(s["call"], s["outcome"]) for s in json.loads(first.stdout)["steps"]]
    assert outcomes == [("Register URL v2", "registered"), ("Pull register", "registered")]
    second = tuma_local(ready_file, "--json", "daraja", "register")  # --json before the subcommand too
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert [(s["outcome"], s["code"]) for s in again["steps"]] == [
        ("already registered", "500.003.1001"),
        ("already registered", "1001"),
    ]
    assert again["stk_callback_url"].endswith("/payments/stk/{token}")
    doctor = tuma_local(ready_file, "doctor")
    assert any(
        line.startswith("✓ Daraja URLs: M-Pesa calls this stack's URLs for ")
        for line in doctor.stdout.splitlines()
    ), doctor.stdout
    for token in ("webhook_token", "daraja_token"):
        assert local.ready[token] not in first.stdout + second.stdout
    wrong = tuma_local(ready_file, "daraja", "register", "--version", "v1")
    assert (
        wrong.returncode == 1
        and "401.003.01" in wrong.stdout
        and "DarajaRegisterUrlVersion=v2" in wrong.stdout
    )


def test_fifty_payments_with_callbacks_delivered_dropped_or_late_each_get_exactly_one_receipt(
    daraja: tuple[Local, Path],
) -> None:
    local, ready_file = daraja
    assert (
        tuma_local(ready_file, "daraja", "register").returncode == 0
    )  # idempotent: already registered is fine
    modes = ["deliver", "drop", "late"]
    paid: dict[str, tuple[str, float]] = {}
    for i in range(PAYMENTS):
        receipt, mode = f"QKE{i:07d}", modes[i % 3]
        _daraja(
            local,
            "/_sandbox/payments",
            "POST",
            json={
                "TransID": receipt,
                "TransAmount": f"{100 + i}.00",
                "MSISDN": f"2547120{i:05d}",
                "BillRefNumber": f"INV-{i}",
                "FirstName": "Achieng",
                "callback": mode,
            },
        )
        paid[receipt] = (mode, time.time())

    def receipts() -> Counter[str]:
        return Counter(
            sms["message"].split(" ")[0] for sms in local.phones() if sms["message"].startswith("QKE")
        )

    local.wait_for(lambda: set(receipts()) == set(paid), timeout=90, what="a receipt for every payment")
    time.sleep(8)  # the late confirmations arrive, and the pull runs twice more: nothing more is sent
    counts = receipts()
    assert set(counts.values()) == {1} and len(counts) == PAYMENTS
    sources = {
        e["idempotency_key"]: e["source"] for e in local.ledger() if e["idempotency_key"].startswith("QKE")
    }
    for receipt, (mode, _) in paid.items():
        if mode == "drop":
            assert sources[receipt] == "pull", receipt
        if mode == "deliver":
            assert sources[receipt] in ("c2b", "pull"), receipt
    sms_at = {sms["message"].split(" ")[0]: sms["accepted_at"] for sms in local.phones()}
    dropped = sorted(sms_at[r] - t for r, (mode, t) in paid.items() if mode == "drop")
    stats = _daraja(local, "/_sandbox/stats")["requests"]
    queries, tokens = stats["/pulltransactions/v1/query"], stats["/oauth/v1/generate"]
    print(
        f"\n{PAYMENTS} payments ({Counter(m for m, _ in paid.values())}): SMS per payment {set(counts.values())}; "
        f"learnt by {Counter(sources.values())}; dropped callback -> receipt: median {dropped[len(dropped) // 2]:.1f} s, "
        f"max {dropped[-1]:.1f} s (pull every 3 s locally); {tokens} token requests for {queries} pull queries "
        f"({100 * tokens / queries:.1f} per 100)"
    )
    # A token lives an hour, in memory (issue 31: no table holds it): one for the pull job's container,
    # whatever its number of queries, and one for each `tuma daraja` command this module ran (four).
    assert tokens <= 5 and queries >= 4 * tokens, (tokens, queries)


def test_the_days_payments_list_every_one_with_how_it_was_learnt_and_its_receipt(
    daraja: tuple[Local, Path],
) -> None:
    local, ready_file = daraja
    local.wait_for(lambda: len(local.phones()) >= PAYMENTS, timeout=90, what="the receipts")
    answer = tuma_local(ready_file, "payments", "--json")
    assert answer.returncode == 0, answer.stderr
    view = json.loads(answer.stdout)
    rows = {row["receipt"]: row for row in view["payments"] if row["receipt"].startswith("QKE")}
    assert len(rows) == PAYMENTS and view["mpesa_compared"] is True
    assert {row["in_mpesa"] for row in rows.values()} == {True}
    assert {row["learnt_by"] for row in rows.values()} <= {"callback", "pull"}
    assert view["totals"]["by_learnt"]["pull"] >= PAYMENTS // 3
    assert rows["QKE0000001"]["amount"] == "101.00" and rows["QKE0000001"]["account"] == "INV-1"
    table = tuma_local(ready_file, "payments")
    assert table.returncode == 0 and "by how learnt:" in table.stdout and "2547120" not in table.stdout
    traced = tuma_local(ready_file, "trace", "QKE0000001")
    assert traced.returncode == 0 and "source         pull" in traced.stdout


def test_asking_mpesa_about_a_receipt_brings_its_answer(daraja: tuple[Local, Path]) -> None:
    _, ready_file = daraja
    asked = tuma_local(ready_file, "daraja", "status", "QKE0000001", "--json")
    assert asked.returncode == 0, asked.stderr
    result = json.loads(asked.stdout)
    assert result["answer"]["transaction_status"] == "Completed"
    assert [r["status"] for r in result["receipt_status"]] != []
    unknown = tuma_local(ready_file, "daraja", "status", "QKNOSUCH99")
    assert unknown.returncode == 0 and "R000002" in unknown.stdout
