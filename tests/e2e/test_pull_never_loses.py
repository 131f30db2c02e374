"""The pull never loses a payment, and a pulled receipt says the right thing (issue 29), end to end:
`tuma local up --daraja` in its own process, the Daraja simulator made to misbehave, driven from
outside only.

- Pull answers a page of 1,000 rows and then 1,001 more; a malformed row sits among good ones; the
  outbox queue refuses during one confirmation; a callback comes with a masked number for a payment
  the pull lists with the plain one. Every payable payment gets exactly one receipt, its printed
  time the payment's own Kenyan time.
- The finance view of a day with payments between 21:00 and 24:00 has no false gaps.
- `tuma daraja credential` against the simulator, which checks the ciphertext with its private key:
  Transaction Status then works; before, M-Pesa's 2001 is reported as what it is.
- Daraja's dates on another clock than DarajaPullTimes: `tuma doctor` shows the skew; no receipt lost.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tuma.formatting.clock import EAT

from tests.conftest import ROOT
from tests.e2e.conftest import Local, running_local, tuma_local

pytestmark = pytest.mark.e2e
BIG = 2001  # a page of 1,000 rows, then 1,001 more
# The rows that are customers' payments: every fourth, and every row around the pages' edges; the
# others are rows Daraja lists that make no receipt (the short code's settlement sweeps), so that
# paging is tested whole without sending two thousand SMS through the emulator.
EDGES = {0, 1, 998, 999, 1000, 1001, 1002, 1998, 1999, 2000}
SWEEP = "merchant-to-organization-settlement"


@pytest.fixture(scope="module")
def daraja(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Local, Path]]:
    ready_file = tmp_path_factory.mktemp("pull") / "ready.json"
    # Two thousand receipts' delivery reports would be as many callbacks more on one machine: the
    # reconciler asks for them instead, which is not what this module is about.
    with running_local(ready_file=ready_file, options=("--daraja", "--no-delivery-callbacks")) as topology:
        assert tuma_local(ready_file, "daraja", "register").returncode == 0
        yield topology, ready_file


def _sim(local: Local, path: str, method: str = "GET", **kwargs: Any) -> Any:
    return local.simulator_at("daraja_simulator_url", path, method, **kwargs)


def _receipts(local: Local, prefix: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for sms in local.phones():
        if sms["message"].startswith(prefix):
            found.setdefault(sms["message"].split(" ")[0], []).append(sms)
    return found


def _kenyan(made_at: float) -> str:
    return datetime.fromtimestamp(made_at, EAT).strftime("%d/%m/%Y %H:%M")


def _number(n: int) -> str:
    """A customer's own number, ending in 1: never one of the provider simulator's failing endings."""
    return f"2547{3_000_000 + n:07d}1"


def _payment(receipt: str, n: int, made_at: float, callback: str = "drop", **extra: Any) -> dict[str, Any]:
    return {
        "TransID": receipt,
        "TransAmount": f"{100 + n % 900}.00",
        "MSISDN": _number(n),
        "BillRefNumber": f"INV-{n}",
        "FirstName": "Wanjiru",
        "callback": callback,
        "made_at": made_at,
        **extra,
    }


def test_a_confirmation_the_outbox_refused_is_receipted_by_the_pull(daraja: tuple[Local, Path]) -> None:
    local, _ = daraja
    sqs = local.aws("sqs")
    queues = {
        name: url for name, url in local.ready["queues"].items() if name in ("OutboxQueue", "FastOutboxQueue")
    }
    kept = {
        name: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        for name, url in queues.items()
    }
    for url in queues.values():
        sqs.delete_queue(QueueUrl=url)
    try:
        made_at = time.time()
        _sim(local, "/_sandbox/payments", "POST", json=_payment("QKREFUSED1", 5, made_at, callback="deliver"))
        local.wait_for(
            lambda: _payment_view(local, "QKREFUSED1").get("post_failed"),
            timeout=30,
            what="the refused callback",
        )
        # Judged while the queues are gone: once they are back, a pull run may already have receipted it.
        assert not [
            e for e in local.ledger("QKREFUSED1", with_payments=True) if e["recipient_ref"] == "#payment"
        ]
    finally:
        for name, url in queues.items():
            attributes = {k: v for k, v in kept[name].items() if k in _SETTABLE}
            sqs.create_queue(QueueName=url.rsplit("/", 1)[1], Attributes=attributes)
    local.wait_for(
        lambda: "QKREFUSED1" in _receipts(local, "QKREFUSED"), timeout=60, what="the pull's receipt"
    )
    time.sleep(6)
    [sms] = _receipts(local, "QKREFUSED")["QKREFUSED1"]
    assert f"on {_kenyan(made_at)}" in sms["message"]


_SETTABLE = {
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "KmsMasterKeyId",
    "SqsManagedSseEnabled",
}


def _payment_view(local: Local, receipt: str) -> dict[str, Any]:
    return next((p for p in _sim(local, "/_sandbox/payments") if p["TransID"] == receipt), {})


@pytest.mark.timeout(300)
def test_the_finance_view_of_a_day_with_late_evening_payments_has_no_false_gaps(
    daraja: tuple[Local, Path],
) -> None:
    local, ready_file = daraja
    yesterday = datetime.now(EAT).date() - timedelta(days=1)
    evening = [
        datetime(yesterday.year, yesterday.month, yesterday.day, hour, minute, tzinfo=EAT)
        for hour, minute in ((21, 5), (22, 30), (23, 59))
    ]
    for n, moment in enumerate(evening):
        _sim(
            local,
            "/_sandbox/payments",
            "POST",
            json=_payment(f"QKEVE{n:05d}", n, moment.timestamp(), callback="deliver"),
        )
    receipts = {f"QKEVE{n:05d}" for n in range(len(evening))}
    local.wait_for(
        lambda: receipts <= set(_receipts(local, "QKEVE")), timeout=60, what="the evening's receipts"
    )
    day = json.loads(tuma_local(ready_file, "payments", "--day", yesterday.isoformat(), "--json").stdout)
    rows = {row["receipt"]: row for row in day["payments"] if row["receipt"].startswith("QKEVE")}
    assert day["mpesa_compared"] is True, day["mpesa_note"]
    assert set(rows) == receipts and {row["in_mpesa"] for row in rows.values()} == {True}
    assert {row["learnt_by"] for row in rows.values()} == {"callback"}
    today = json.loads(tuma_local(ready_file, "payments", "--json").stdout)
    assert not [row for row in today["payments"] if row["receipt"].startswith("QKEVE")]  # not the next day


def test_the_credential_stored_encrypted_makes_transaction_status_work(daraja: tuple[Local, Path]) -> None:
    local, ready_file = daraja
    _sim(local, "/_sandbox/payments", "POST", json=_payment("QKASK00001", 9, time.time(), callback="deliver"))
    local.wait_for(lambda: "QKASK00001" in _receipts(local, "QKASK"), timeout=60, what="the receipt")
    secrets = local.aws("secretsmanager")
    secret_id = local.ready["secrets"]["DarajaSecret"]
    value = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
    password = _sim(local, "/_sandbox/config")["initiator_password"]
    # The password as the portal gave it, pasted in the secret unencrypted.
    secrets.put_secret_value(
        SecretId=secret_id, SecretString=json.dumps(value | {"security_credential": password})
    )
    refused = tuma_local(ready_file, "daraja", "status", "QKASK00001", "--json")
    answer = json.loads(refused.stdout)["answer"]
    assert answer["result_code"] == "2001" and "tuma daraja credential" in answer["description"]

    stored = subprocess.run(
        [
            sys.executable,
            "-m",
            "tuma_cli.main",
            "daraja",
            "credential",
            "--password-stdin",
            "--local",
            "--ready-file",
            str(ready_file),
        ],
        cwd=ROOT,
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert stored.returncode == 0, stored.stderr
    assert password not in stored.stdout + stored.stderr
    credential = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])[
        "security_credential"
    ]
    assert credential != password and len(credential) == 344  # RSA-2048, base64
    answered = json.loads(tuma_local(ready_file, "daraja", "status", "QKASK00001", "--json").stdout)
    assert answered["answer"]["result_code"] == "0"
    assert answered["answer"]["transaction_status"] == "Completed"


@pytest.mark.timeout(420)
def test_every_payable_payment_gets_one_receipt_with_its_own_kenyan_time(daraja: tuple[Local, Path]) -> None:
    local, _ = daraja
    _sim(local, "/_sandbox/config", "POST", json={"page_size": 1000})
    now = time.time()
    made = {f"QKB{n:07d}": now - 1800 + n * 0.5 for n in range(BIG)}  # the last half hour
    payments = [_payment(r, n, made[r]) for n, r in enumerate(made)]
    sweeps = {r for n, r in enumerate(made) if n % 4 and n not in EDGES and n not in (7, 8)}
    for payment in payments:
        if payment["TransID"] in sweeps:
            payment["row_fields"] = {"transactiontype": SWEEP}
    # Among them, rows Pull lists malformed: one a receipt can go without (its account), one it cannot.
    payments[7]["row_fields"] = {"billreference": {"nested": "object"}}
    payments[8]["row_fields"] = {"amount": {"value": 108}}
    _sim(local, "/_sandbox/payments", "POST", json={"payments": payments})

    # A callback with a masked number, for a payment the pull lists with the plain one.
    masked_at = time.time()
    _sim(
        local,
        "/_sandbox/payments",
        "POST",
        json=_payment(
            "QKMASK0001", 1, masked_at, callback="deliver", callback_fields={"MSISDN": "2547 ***** 001"}
        ),
    )
    payable = set(made) - sweeps - {"QKB0000008"} | {"QKMASK0001"}
    started = time.monotonic()
    local.wait_for(
        lambda: payable <= set(_receipts(local, "QKB")) | set(_receipts(local, "QKMASK")),
        timeout=300,
        what="a receipt for every payable payment",
    )
    elapsed = time.monotonic() - started
    time.sleep(8)  # the pull runs again, twice: nothing more is sent
    sent = _receipts(local, "QKB") | _receipts(local, "QKMASK")
    assert set(sent) == payable and {len(v) for v in sent.values()} == {1}
    for receipt, [sms] in sent.items():
        at = masked_at if receipt == "QKMASK0001" else made[receipt]
        assert f"on {_kenyan(at)}" in sms["message"], (receipt, sms["message"])
    assert sent["QKMASK0001"][0]["mobile"] == _number(1)  # the plain number the pull had
    assert "for account" not in sent["QKB0000007"][0]["message"]  # sent without what could not be read
    [rejected] = local.ledger("QKB0000008")
    assert rejected["status"] == "REJECTED" and "amount" in rejected["reason"]
    assert not set(_receipts(local, "QKB")) & sweeps
    runs = [
        run
        for line in (Path(local.ready["logs"]) / "daraja_pull.log").read_text().splitlines()
        if '"message":"pulled"' in line
        for run in json.loads(line)["runs"]
    ]
    assert any(run.get("skipped_kinds") == {SWEEP: len(sweeps)} for run in runs)  # counted by kind
    pulls = _sim(local, "/_sandbox/stats")["requests"]["/pulltransactions/v1/query"]
    print(
        f"\n{BIG} rows paged 1,000 + 1,001 by Pull ({len(payable)} payments, callbacks dropped, "
        f"{len(sweeps)} settlement rows): every payment receipted in {elapsed:.0f} s, one SMS each, "
        f"none for a sweep ({pulls} Pull queries in all); a malformed amount rejected with its reason"
    )


@pytest.mark.timeout(240)
def test_daraja_dates_on_another_clock_show_as_skew_in_doctor_and_lose_nothing(
    tmp_path: Path,
) -> None:
    ready_file = tmp_path / "ready.json"
    with running_local(ready_file=ready_file, options=("--daraja",)) as local:
        assert tuma_local(ready_file, "daraja", "register").returncode == 0
        _sim(local, "/_sandbox/config", "POST", json={"trx_dates": "utc"})  # DarajaPullTimes is kenya
        now = time.time()
        for n, callback in enumerate(("deliver", "deliver", "drop")):
            _sim(
                local,
                "/_sandbox/payments",
                "POST",
                json=_payment(f"QKSKEW{n:04d}", n, now + n, callback=callback),
            )
        local.wait_for(lambda: len(_receipts(local, "QKSKEW")) == 3, timeout=90, what="three receipts")

        def pulled_both() -> bool:
            records = [e for e in local.ledger(with_payments=True) if e["recipient_ref"] == "#payment"]
            both = [r for r in records if "pulled_at" in r and "called_back_at" in r]
            return sum(1 for r in both if r["idempotency_key"] < "QKSKEW0002") == 2

        local.wait_for(pulled_both, timeout=60, what="the pull to list the called-back payments")
        time.sleep(6)
        sent = _receipts(local, "QKSKEW")
        assert Counter(len(v) for v in sent.values()) == {1: 3}
        doctor = json.loads(tuma_local(ready_file, "doctor", "--json").stdout)
        [clock] = [c for c in doctor["checks"] if c["name"] == "Daraja's clock"]
        assert clock["ok"] is False and "DarajaPullTimes=utc" in clock["fix"], clock
        print(f"\ntuma doctor: ✗ {clock['detail']}\n    fix: {clock['fix']}")
