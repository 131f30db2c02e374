"""The guards, end to end: `tuma local up` with caps, limits and windows small enough to trip, driven
from outside (HTTP to the webhooks, boto3 to the queues and the alarm topic, `tuma caps`/`pause`).
The figures the issue asks for are printed (run with -s)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Local, running_local, tuma_local

pytestmark = pytest.mark.e2e
OPERATORS = "0722 000 111"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Local, Path]]:
    ready_file = tmp_path_factory.mktemp("guards") / "ready.json"
    with running_local(
        f"AlertRecipients={OPERATORS}",
        "DailyPartsCap=20",
        "ReceiptDailyPartsCap=0",  # receipts count towards the daily cap here (their own by default)
        "AlertCollapseSeconds=40",
        "GuardRecheckSeconds=3",
        ready_file=ready_file,
        options=("--schedule-period", "2"),
    ) as local:
        yield local, ready_file


def _operator_sms(local: Local, words: str) -> list[str]:
    return [s["message"] for s in local.phones() if s["mobile"] == "254722000111" and words in s["message"]]


def _queue(local: Local, body: dict[str, Any], fast: bool = True) -> None:
    name = "FastOutboxQueue" if fast else "OutboxQueue"
    local.aws("sqs").send_message(QueueUrl=local.ready["queues"][name], MessageBody=json.dumps(body))


def _summarised(summary: str) -> int:
    found = re.search(r"and (\d+) more since", summary)
    return int(found.group(1)) if found else 0


def test_five_hundred_alerts_of_one_incident_are_one_sms_and_one_summary(guarded: tuple[Local, Path]) -> None:
    """One SMS and one summary while the storm fits its window (40 s here); a machine too slow to
    take the 500 in that time opens a second window, with its own first SMS and summary. Either way
    every alert is an SMS or counted once in a summary."""
    local, _ = guarded
    sqs, url = local.aws("sqs"), local.ready["queues"]["FastOutboxQueue"]
    started = time.monotonic()
    for batch in range(50):
        entries = [
            {
                "Id": str(n),
                "MessageBody": json.dumps(
                    {
                        "idempotency_key": f"storm-{batch}-{n}",
                        "template": "alert",
                        "data": {"title": "Till offline", "host": "pos-7"},
                    }
                ),
            }
            for n in range(10)
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)

    def accounted() -> int:
        sms = _operator_sms(local, "Till offline")
        return sum(_summarised(s) or 1 for s in sms)

    local.wait_for(lambda: accounted() == 500, timeout=150, what="every alert sent or summarised")
    sms = _operator_sms(local, "Till offline")
    firsts = [s for s in sms if not _summarised(s)]
    assert firsts[0] == "ALERT: Till offline on pos-7" and set(firsts) == {firsts[0]}
    assert len(sms) - len(firsts) in (len(firsts) - 1, len(firsts))  # a summary for each window with repeats
    print(f"\n500 alerts for one incident in {time.monotonic() - started:.0f} s: {len(sms)} SMS: {sms}")


def test_a_flapping_alarm_sends_one_pair_per_window(guarded: tuple[Local, Path]) -> None:
    local, _ = guarded
    sns, topic = local.aws("sns"), local.ready["topics"]["AlarmTopic"]
    for n in range(20):  # ALARM, OK, ALARM... every half second for ten seconds
        state = "ALARM" if n % 2 == 0 else "OK"
        notification = {
            "AlarmName": "tuma-LowCredit",
            "NewStateValue": state,
            "OldStateValue": "OK" if state == "ALARM" else "ALARM",
            "NewStateReason": "flapping",
            "Region": "EU (Ireland)",
            "StateChangeTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
        }
        sns.publish(TopicArn=topic, Message=json.dumps(notification))
        time.sleep(0.5)

    def summary() -> list[str]:
        return [t for t in _operator_sms(local, "tuma-LowCredit") if "more since" in t]

    local.wait_for(summary, timeout=90, what="the flapping's summary")
    sms = _operator_sms(local, "tuma-LowCredit")
    kinds = [text.split(":")[0] for text in sms]
    assert kinds.count("ALARM") == 1 and kinds.count("RECOVERED") == 1 and len(sms) == 3
    print(f"\n20 alarm state changes in 10 s: {len(sms)} SMS: {kinds}; summary: {sms[-1]!r}")


def test_a_daily_cap_of_20_parts_holds_the_rest_alerts_at_80_percent_and_goes_when_raised(
    guarded: tuple[Local, Path],
) -> None:
    local, ready_file = guarded
    before = len([s for s in local.phones() if s["message"].startswith("CAP")])
    for n in range(30):
        answer = local.post_signed(
            "/payments", {"reference": f"CAP{n:05d}", "amount": "100", "phone": f"07140{n:05d}"}
        )
        assert answer.status_code == 202
    local.wait_for(lambda: _operator_sms(local, "cap reached"), timeout=60, what="the cap alert")
    time.sleep(4)
    receipts = [s for s in local.phones() if s["message"].startswith("CAP")]
    waiting = [
        e for e in local.ledger() if e["idempotency_key"].startswith("CAP") and e["status"] == "RETRYING"
    ]
    warned = _operator_sms(local, "at 80%")
    # Earlier tests' alerts count towards the day's parts too: what is left of 20 went, the rest waits.
    assert len(receipts) + len(waiting) == 30 and waiting and warned
    assert waiting[0]["reason"].startswith("waiting: daily parts cap reached")
    shown = json.loads(tuma_local(ready_file, "caps", "show", "--json").stdout)
    assert (
        shown["caps"]["daily_parts"] == 20
        and shown["today"]["receipt_parts"] + shown["today"]["other_parts"] >= 16
    )
    raised = tuma_local(ready_file, "caps", "set", "--daily-parts", "100")
    assert raised.returncode == 0 and "daily cap:          100 parts" in raised.stdout
    local.wait_for(
        lambda: len([s for s in local.phones() if s["message"].startswith("CAP")]) == 30,
        timeout=60,
        what="the held receipts after the cap was raised",
    )
    counts: dict[str, int] = {}
    for sms in local.phones():
        if sms["message"].startswith("CAP"):
            counts[sms["message"].split(" ")[0]] = counts.get(sms["message"].split(" ")[0], 0) + 1
    assert set(counts.values()) == {1} and before == 0
    print(
        f"\ncap 20 parts, 30 receipts: {len(receipts)} sent, {len(waiting)} waited; 80% alert: {warned[0]!r}; "
        "after tuma caps set --daily-parts 100: all 30 sent, each once"
    )


def test_pause_then_resume_loses_nothing_and_sends_nothing_twice(guarded: tuple[Local, Path]) -> None:
    local, ready_file = guarded
    assert tuma_local(ready_file, "caps", "set", "--daily-parts", "0").returncode == 0
    paused = tuma_local(ready_file, "pause")
    assert paused.returncode == 0 and "paused: everything" in paused.stdout
    time.sleep(1)
    for n in range(15):
        _queue(
            local,
            {"idempotency_key": f"PAUSE{n:04d}", "to": [f"07150{n:05d}"], "text": f"PAUSE{n:04d} hello"},
            fast=n % 2 == 0,
        )
    # A producer that claims to be one of Tuma's own guards: held by the pause like the rest.
    forged = {
        "idempotency_key": "PAUSEFORGED",
        "to": ["0715099999"],
        "text": "PAUSEFORGED We have received KES 50,000",
    }
    _queue(local, forged | {"source": "guard"}, fast=True)
    time.sleep(6)
    assert not [s for s in local.phones() if s["message"].startswith("PAUSE")]
    held = [e for e in local.ledger() if e["idempotency_key"].startswith("PAUSE")]
    assert len(held) == 16 and {e["status"] for e in held} == {"RETRYING"}
    assert json.loads(tuma_local(ready_file, "caps", "show", "--json").stdout)["paused"] == ["all"]
    assert tuma_local(ready_file, "resume").returncode == 0
    local.wait_for(
        lambda: len([s for s in local.phones() if s["message"].startswith("PAUSE")]) == 16,
        timeout=90,
        what="every paused message after resume",
    )
    time.sleep(5)
    texts = [s["message"] for s in local.phones() if s["message"].startswith("PAUSE")]
    assert len(texts) == len(set(texts)) == 16
    print(
        f"\npaused with 16 messages in flight (one claiming to be a guard's own): 0 sent while paused, "
        f"{len(held)} RETRYING; after resume 16 sent, each once"
    )
