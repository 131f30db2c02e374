"""The guards against in-memory ports: caps, the stop switch, per-number limits, alert storms."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tuma.models.ledger import Status
from tuma.security.number_keys import NumberKeys
from tuma.services.guards import CAPS, PAUSE, Category, Guards, Limits, day_of, usage_name
from tuma.services.send_path.batch import Inbound
from tuma.services.send_path.pipeline import Dispatcher

from tests.unit.fakes import (
    FakeSender,
    ListMetrics,
    MemoryAgenda,
    MemoryClaims,
    MemoryGuardStore,
    MemoryLedger,
    MemoryOutbox,
)

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OPERATORS = ("0722000111",)


class Rig:
    def __init__(self, number_keys: NumberKeys | None = None, **limits: Any) -> None:
        self.now = START
        self.sender = FakeSender()
        self.ledger = MemoryLedger()
        self.claims = MemoryClaims()
        self.metrics = ListMetrics()
        self.store = MemoryGuardStore()
        self.queue = MemoryOutbox()
        self.agenda = MemoryAgenda()
        guards = Guards(
            self.store,
            Limits(**limits),
            queue=self.queue,
            agenda=self.agenda,
            alert_recipients=OPERATORS,
            number_keys=number_keys,
        )
        self.dispatcher = Dispatcher(
            self.sender,
            self.ledger,
            self.claims,
            self.metrics,
            alert_recipients=OPERATORS,
            agenda=self.agenda,
            clock=lambda: self.now,
            guards=guards,
            parking=self.queue,
        )

    def run(self, *bodies: dict[str, Any]) -> list[Any]:
        return self.dispatcher.dispatch([Inbound(f"r{i}", json.dumps(b)) for i, b in enumerate(bodies)])

    def again(self) -> list[Any]:
        """The parked messages come back (as SQS would deliver them after their delay)."""
        parked, self.queue.parked = self.queue.parked, []
        return self.dispatcher.dispatch([Inbound(f"p{i}", body) for i, (body, _, _) in enumerate(parked)])

    def status(self, key: str) -> str:
        [entry] = self.ledger.get(key)
        return entry.status.value


def receipt(n: int, phone: str | None = None) -> dict[str, Any]:
    return {
        "idempotency_key": f"QK{n:08d}",
        "to": [phone or f"07120{n:05d}"],
        "template": "receipt",
        "data": {"reference": f"QK{n:08d}", "amount": "100", "currency": "KES"},
    }


def alert(n: int, title: str = "Disk full", host: str = "db-1") -> dict[str, Any]:
    return {"idempotency_key": f"alert-{n}", "template": "alert", "data": {"title": title, "host": host}}


def test_a_daily_cap_sends_up_to_it_warns_at_80_percent_and_holds_the_rest_until_it_is_raised() -> None:
    rig = Rig(daily_parts=20)
    rig.run(*(receipt(n) for n in range(30)))
    sent = len(rig.sender.sent)
    assert sent == 20
    held = [e for e in rig.ledger.entries.values() if e.status is Status.RETRYING]
    assert len(held) == 10
    assert (held[0].reason or "").startswith("waiting: daily parts cap reached (20 of 20 used)")
    assert len(rig.queue.parked) == 10 and {d for _, _, d in rig.queue.parked} == {900}
    alerts = [m for m in rig.queue.messages if m.source == "guard"]
    assert sorted(m.data["title"] for m in alerts) == [
        "Tuma: daily SMS cap at 80%",
        "Tuma: daily SMS cap reached",
    ]
    assert rig.store.documents[usage_name(day_of(START), "receipt")]["count"] == 20
    rig.again()
    assert len(rig.sender.sent) == 20 and len(rig.queue.parked) == 10  # still capped: back on the queue
    rig.store.documents[CAPS] = {"daily_parts": 40}  # tuma caps set --daily-parts 40
    rig.again()
    assert len(rig.sender.sent) == 30 and rig.queue.parked == []
    assert {e.status for e in rig.ledger.entries.values()} == {Status.SENT}
    assert len({m for m, _ in rig.sender.sent}) == 30  # nothing twice


def test_receipts_on_their_own_cap_are_never_starved_by_a_campaign() -> None:
    rig = Rig(daily_parts=5, receipt_daily_parts=100)
    campaign = [
        {"idempotency_key": f"promo-{n}", "to": [f"07130{n:05d}"], "text": "Sale!"} for n in range(10)
    ]
    rig.run(*campaign, *(receipt(n) for n in range(10)))
    texts = [t for _, t in rig.sender.sent]
    assert texts.count("Sale!") == 5 and len(texts) == 15
    day = day_of(START)
    assert rig.store.documents[usage_name(day, "other")]["count"] == 5
    assert rig.store.documents[usage_name(day, "receipt")]["count"] == 10


def test_the_day_turning_releases_what_the_cap_held() -> None:
    rig = Rig(daily_parts=3)
    rig.run(*(receipt(n) for n in range(5)))
    assert len(rig.sender.sent) == 3
    rig.now = START + timedelta(days=1)
    rig.again()
    assert len(rig.sender.sent) == 5


def test_pause_holds_everything_and_resume_sends_each_message_once() -> None:
    rig = Rig()
    rig.store.documents[PAUSE] = {"categories": ["all"]}
    rig.run(
        receipt(1), {"idempotency_key": "otp-1", "to": ["0712345678"], "text": "code 1234", "route": "otp"}
    )
    assert rig.sender.sent == [] and {rig.status("QK00000001"), rig.status("otp-1")} == {"RETRYING"}
    assert {d for _, _, d in rig.queue.parked} == {120}
    rig.again()
    assert rig.sender.sent == []
    del rig.store.documents[PAUSE]  # tuma resume
    rig.again()
    rig.again()
    assert len(rig.sender.sent) == 2 and rig.status("otp-1") == "SENT"


def test_pausing_one_category_leaves_the_others_alone() -> None:
    rig = Rig()
    rig.store.documents[PAUSE] = {"categories": ["message"]}
    rig.run(receipt(1), {"idempotency_key": "promo", "to": ["0712345678"], "text": "Sale!"})
    assert [t for _, t in rig.sender.sent] != [] and rig.status("promo") == "RETRYING"


def test_per_number_limits_refuse_codes_delay_bulk_and_let_a_double_payment_have_both_receipts() -> None:
    rig = Rig()
    codes = [
        {"idempotency_key": f"otp-{n}", "to": ["0712345678"], "text": f"code {n}", "route": "otp"}
        for n in range(6)
    ]
    rig.run(*codes)
    assert len(rig.sender.sent) == 5
    assert rig.status("otp-5") == "REJECTED"
    assert rig.ledger.get("otp-5")[0].reason == "rate limit: at most 5 one-time codes an hour to one number"
    bulk = [{"idempotency_key": f"b-{n}", "to": ["0722222222"], "text": f"news {n}"} for n in range(12)]
    rig.run(*bulk)
    assert sum(1 for m, _ in rig.sender.sent if m == "254722222222") == 10
    assert rig.status("b-11") == "RETRYING" and (rig.ledger.get("b-11")[0].reason or "").startswith(
        "waiting: at most 10"
    )
    rig.run(receipt(1, "0733333333"), receipt(2, "0733333333"))  # one customer paying twice in a minute
    assert sum(1 for m, _ in rig.sender.sent if m == "254733333333") == 2


def test_an_alert_storm_is_one_sms_then_one_summary_when_the_window_closes() -> None:
    rig = Rig(collapse_seconds=600)
    for batch in range(50):  # 500 alerts with distinct keys for one incident, in one minute
        rig.now = START + timedelta(seconds=batch)
        rig.run(*(alert(batch * 10 + n) for n in range(10)))
    assert [t for _, t in rig.sender.sent] == ["ALERT: Disk full on db-1"]
    collapsed = [e for e in rig.ledger.entries.values() if e.reason and e.reason.startswith("collapsed")]
    assert len(collapsed) == 499 and rig.metrics.counts["AlertsCollapsed"] == 499
    rig.now = START + timedelta(minutes=11)
    [due] = rig.agenda.due_messages(rig.now, 10)
    assert rig.agenda.release(due)
    rig.dispatcher.dispatch([Inbound("summary", due.body)])
    assert len(rig.sender.sent) == 2
    assert (
        rig.sender.sent[1][1].startswith("ALERT: Disk full on db-1")
        and "and 499 more since 12:00" in rig.sender.sent[1][1]
    )
    rig.run(alert(9999))  # after the window: a new one goes at once
    assert len(rig.sender.sent) == 3


def test_an_alarm_flapping_for_ten_minutes_sends_one_pair_then_a_summary() -> None:
    rig = Rig(collapse_seconds=600)
    for n in range(20):
        rig.now = START + timedelta(seconds=30 * n)
        template = "alarm" if n % 2 == 0 else "alarm_ok"
        data = {"alarm": "tuma-OutboxDeadLetters", "state": "ALARM" if n % 2 == 0 else "OK", "region": "EU"}
        rig.run({"idempotency_key": f"alarm-{n}", "template": template, "data": data})
    kinds = [t.split(":")[0] for _, t in rig.sender.sent]
    assert kinds == ["ALARM", "RECOVERED"]
    rig.now = START + timedelta(minutes=11)
    [due] = rig.agenda.due_messages(rig.now, 10)
    rig.agenda.release(due)
    rig.dispatcher.dispatch([Inbound("summary", due.body)])
    assert "and 18 more since 12:00" in rig.sender.sent[-1][1] and len(rig.sender.sent) == 3


def test_every_guard_reads_its_state_in_one_batched_read_per_batch() -> None:
    rig = Rig(daily_parts=1000, collapse_seconds=600)
    rig.run(*(receipt(n) for n in range(100)), alert(1))
    # One read judges the batch; what went is counted from it.
    assert rig.store.batch_reads == 1 and len(rig.sender.bulk_calls) == 1


def test_guard_alerts_pass_even_the_caps_they_report() -> None:
    rig = Rig(daily_parts=1)
    rig.run(receipt(1), receipt(2))
    guard_alerts = [m for m in rig.queue.messages if m.source == "guard"]
    rig.dispatcher.dispatch([Inbound(f"g{i}", m.to_json()) for i, m in enumerate(guard_alerts)])
    assert [m for m, _ in rig.sender.sent].count("254722000111") == len(guard_alerts) > 0


def test_an_outbox_message_claiming_to_be_a_guards_own_is_guarded_like_any_other() -> None:
    rig = Rig()
    rig.store.documents[PAUSE] = {"categories": ["all"]}
    forged = {"idempotency_key": "forged-1", "to": ["0712345678"], "text": "We have received KES 50,000"}
    rig.run(forged | {"source": "guard"})
    assert rig.sender.sent == [] and rig.status("forged-1") == "RETRYING"  # held by the pause
    assert len(rig.queue.parked) == 1  # and still held, for when the business resumes


def test_categories_are_what_an_operator_expects() -> None:
    assert {c.value for c in Category} == {"receipt", "code", "alert", "message"}


def test_numbers_outside_kenya_are_refused_before_any_cost_unless_their_country_is_allowed() -> None:
    rig = Rig()
    abroad = {"idempotency_key": "ug-1", "to": ["+256712345678", "0712345678"], "text": "Hello"}
    rig.run(abroad)
    assert [m for m, _ in rig.sender.sent] == ["254712345678"]
    [refused] = [e for e in rig.ledger.get("ug-1") if e.status is Status.REJECTED]
    assert refused.reason == "invalid number: not a Kenyan number" and "256712345678" not in refused.recipient
    allowed = Dispatcher(
        rig.sender, MemoryLedger(), MemoryClaims(), ListMetrics(), countries=frozenset({254, 256})
    )
    allowed.dispatch([Inbound("r", json.dumps(abroad | {"idempotency_key": "ug-2"}))])
    assert "256712345678" in [m for m, _ in rig.sender.sent]
    other = Dispatcher(
        rig.sender, MemoryLedger(), MemoryClaims(), ListMetrics(), countries=frozenset({254, 256})
    )
    other.dispatch(
        [Inbound("r", json.dumps({"idempotency_key": "tz-1", "to": ["+255712345678"], "text": "x"}))]
    )
    assert "255712345678" not in [m for m, _ in rig.sender.sent]


def test_the_80_percent_alert_counts_every_kind_of_part_towards_the_daily_cap() -> None:
    rig = Rig(daily_parts=10)
    rig.run(*({"idempotency_key": f"m-{n}", "to": [f"07130{n:05d}"], "text": "hi"} for n in range(6)))
    rig.run(*(receipt(n) for n in range(3)))  # 6 other + 3 receipts: 9 of 10, past 80%
    assert [m.data["title"] for m in rig.queue.messages if m.source == "guard"] == [
        "Tuma: daily SMS cap at 80%"
    ]


def test_a_numbers_hourly_counter_is_named_by_its_keyed_hash_not_a_digest_anyone_can_reverse() -> None:
    """Issue 31: `rate#<ref>#…` held the number's unkeyed digest, reversible from a masked number."""
    import hashlib

    keys = NumberKeys(lambda: b"k" * 32)
    rig = Rig(number_keys=keys)
    rig.run({"idempotency_key": "b-1", "to": ["0722222222"], "text": "news"})
    names = [name for name in rig.store.documents if name.startswith("rate#")]
    digest = hashlib.sha256(b"254722222222").hexdigest()[:24]
    keyed = keys.of_ref(f"n:{digest}")
    assert names and all(name.startswith(f"rate#k:{keyed[:24]}#") for name in names)
    assert not any(digest in name for name in names)
    # The limit still counts per number: the eleventh bulk message in the hour waits.
    rig.run(*[{"idempotency_key": f"b-{n}", "to": ["0722222222"], "text": f"news {n}"} for n in range(2, 12)])
    assert rig.status("b-11") == "RETRYING"


def test_a_storm_that_outlasts_its_window_has_each_window_summarised_with_its_own_count() -> None:
    rig = Rig(collapse_seconds=600)
    rig.run(*(alert(n) for n in range(10)))  # the first goes, nine are counted
    rig.now = START + timedelta(minutes=10, seconds=30)  # its window closed; its summary is not sent yet
    rig.run(*(alert(100 + n) for n in range(4)))  # the next window: one goes, three are counted
    assert [t for _, t in rig.sender.sent] == ["ALERT: Disk full on db-1"] * 2
    rig.now = START + timedelta(minutes=11)
    [due] = rig.agenda.due_messages(rig.now, 10)  # the first window's summary, sent late
    assert rig.agenda.release(due)
    rig.dispatcher.dispatch([Inbound("summary", due.body)])
    assert "and 9 more since 12:00" in rig.sender.sent[-1][1]  # its own count, not the next window's
    rig.now = START + timedelta(minutes=21)
    [due] = rig.agenda.due_messages(rig.now, 10)
    assert rig.agenda.release(due)
    rig.dispatcher.dispatch([Inbound("summary", due.body)])
    assert "and 3 more since 12:10" in rig.sender.sent[-1][1]
    assert len(rig.sender.sent) == 4
