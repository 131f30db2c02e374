"""The failover breaker and the two-provider sender, on in-memory fakes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from tuma.models.ledger import PRIMARY, SECONDARY, Status
from tuma.models.provider_codes import Disposition
from tuma.models.sending import BulkMessage, SendResult
from tuma.provider.failover import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    PROBE_TIMEOUT,
    Breaker,
    FailoverSender,
    Transition,
    alert_for,
    provider_down,
)
from tuma.services.send_path.batch import Inbound
from tuma.services.send_path.pipeline import Dispatcher

from tests.unit.fakes import OK, FakeSender, ListMetrics, MemoryClaims, MemoryLedger, MemoryStateStore

DOWN = SendResult(Disposition.RETRY, "HTTP 503")  # the primary answered with an error: it took nothing
LOST = SendResult(Disposition.RETRY, "transport error: ReadTimeout", maybe_accepted=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> MemoryStateStore:
    return MemoryStateStore()


def _breaker(store: MemoryStateStore, clock: Clock, threshold: int = 3) -> Breaker:
    return Breaker(store, threshold=threshold, probe_seconds=60, clock=clock)


# -- what counts as the provider being down -------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "down"),
    [
        (SendResult(Disposition.RETRY, "HTTP 502"), True),  # 5xx
        (SendResult(Disposition.RETRY, "transport error: ConnectError"), True),
        (LOST, True),  # a timeout
        (SendResult(Disposition.RETRY, "System error", 1005), True),
        (SendResult(Disposition.RETRY, "System error", 1007), True),
        (SendResult(Disposition.RETRY_LATER, "Internal error, try again after 5 minutes", 4090), True),
        (SendResult(Disposition.REJECT, "Invalid mobile number", 1003), False),  # the message's fault
        (SendResult(Disposition.REJECT, "Network not allowed", 1002), False),
        (SendResult(Disposition.CONFIG, "Invalid sender id", 1001), False),  # ours to fix, not theirs
        (SendResult(Disposition.CREDENTIALS, "Invalid credentials", 1006), False),
        (SendResult(Disposition.RETRY_LATER, "Low bulk credits", 1004), False),
        (OK, False),
    ],
)
def test_only_failures_of_the_provider_itself_count_against_it(result: SendResult, down: bool) -> None:
    assert provider_down(result) is down


# -- the breaker's transitions ---------------------------------------------------------------------


def test_closed_opens_after_the_threshold_of_failures_in_a_row_and_once(
    store: MemoryStateStore, clock: Clock
) -> None:
    breaker = _breaker(store, clock)
    assert breaker.route(breaker.read()) == PRIMARY
    assert breaker.failed("HTTP 503") is None
    assert breaker.failed("HTTP 503") is None
    opened = breaker.failed("HTTP 503")
    assert opened is not None and opened == Transition(SECONDARY, opened.at, "HTTP 503")
    assert breaker.read()["state"] == OPEN and breaker.route(breaker.read()) == SECONDARY
    assert breaker.failed("HTTP 503") is None  # already open: no second transition


def test_a_success_between_failures_starts_the_count_again(store: MemoryStateStore, clock: Clock) -> None:
    breaker = _breaker(store, clock)
    breaker.failed("x")
    breaker.failed("x")
    breaker.succeeded(breaker.read())
    assert breaker.failed("x") is None and breaker.read()["state"] == CLOSED


def test_open_probes_only_when_due_and_a_failed_probe_keeps_it_open(
    store: MemoryStateStore, clock: Clock
) -> None:
    breaker = _breaker(store, clock, threshold=1)
    breaker.failed("down")
    asked = []

    def primary_down() -> bool:
        asked.append(clock.now)
        raise ConnectionError("still down")

    assert breaker.probe(breaker.read(), primary_down) is None and not asked  # not yet due
    clock.now += 61
    assert breaker.probe(breaker.read(), primary_down) is None
    assert len(asked) == 1
    state = breaker.read()
    assert state["state"] == OPEN and state["probe_at"] == clock.now + 60
    clock.now += 30
    assert breaker.probe(breaker.read(), primary_down) is None and len(asked) == 1


def test_half_open_closes_when_the_primary_answers(store: MemoryStateStore, clock: Clock) -> None:
    breaker = _breaker(store, clock, threshold=1)
    breaker.failed("down")
    clock.now += 61
    seen = []

    def primary_up() -> bool:
        seen.append(breaker.read()["state"])  # what other senders see meanwhile
        return True

    closed = breaker.probe(breaker.read(), primary_up)
    assert seen == [HALF_OPEN]
    assert closed is not None and closed.to == PRIMARY
    assert breaker.read() == {"state": CLOSED, "failures": 0, "changed_at": clock.now}


def test_only_one_of_several_senders_wins_a_probe_and_an_abandoned_probe_is_taken_over(
    store: MemoryStateStore, clock: Clock
) -> None:
    first, second = _breaker(store, clock, threshold=1), _breaker(store, clock, threshold=1)
    first.failed("down")
    clock.now += 61
    seen = first.read()
    probes: list[str] = []

    def probe() -> bool:
        probes.append("second")
        return True

    # Both read the same state; the first to swap wins, the other sees it changed.
    assert first._swap(seen, {**seen, "state": HALF_OPEN, "probe_at": clock.now + PROBE_TIMEOUT})
    assert second.probe(seen, probe) is None
    assert probes == []
    # The winner died mid-probe: once the probe is overdue another sender takes it over.
    clock.now += PROBE_TIMEOUT + 1
    assert second.probe(second.read(), probe) is not None
    assert probes == ["second"] and second.read()["state"] == CLOSED


def test_two_senders_failing_at_once_open_the_breaker_once(store: MemoryStateStore, clock: Clock) -> None:
    breakers = [_breaker(store, clock, threshold=2) for _ in range(2)]
    transitions = [b.failed("down") for b in breakers] + [b.failed("down") for b in breakers]
    assert len([t for t in transitions if t is not None]) == 1


def test_an_unreachable_state_table_never_stops_sending(store: MemoryStateStore, clock: Clock) -> None:
    breaker = _breaker(store, clock, threshold=1)
    store.broken = True
    assert breaker.route(breaker.read()) == PRIMARY
    store.calls = 0
    assert breaker.failed("down") is None
    assert store.calls == 2  # one read, one write refused: not five rounds of both


# -- the sender over two providers -------------------------------------------------------------------


def _senders(primary_result: SendResult | None = None) -> tuple[FakeSender, FakeSender]:
    primary = FakeSender(lambda m, t: primary_result or OK, name=PRIMARY)
    secondary = FakeSender(name=SECONDARY)
    return primary, secondary


def _messages(n: int, pinned: str | None = None) -> list[BulkMessage]:
    return [BulkMessage(str(i + 1), f"2547120000{i:02d}", f"receipt {i}", pinned) for i in range(n)]


def _failover(
    primary: FakeSender,
    secondary: FakeSender,
    breaker: Breaker,
    transitions: list[Transition] | None = None,
    probe: Callable[[], bool] = lambda: True,
) -> FailoverSender:
    return FailoverSender(
        primary, secondary, breaker, probe, ([] if transitions is None else transitions).append
    )


def test_when_the_primary_is_down_the_batch_that_opens_the_breaker_goes_out_through_the_secondary(
    store: MemoryStateStore, clock: Clock
) -> None:
    primary, secondary = _senders(DOWN)
    transitions: list[Transition] = []
    sender = _failover(primary, secondary, _breaker(store, clock, threshold=2), transitions)
    first = sender.send_bulk(_messages(3))
    assert all(r.disposition is Disposition.RETRY and r.provider == PRIMARY for r in first.values())
    assert secondary.bulk_calls == []
    second = sender.send_bulk(_messages(3))
    assert all(r.accepted and r.provider == SECONDARY for r in second.values())
    assert [t.to for t in transitions] == [SECONDARY]
    # And from then on straight to the secondary: the primary is not tried again until a probe.
    sender.send_bulk(_messages(2))
    assert len(primary.bulk_calls) == 2 and len(secondary.bulk_calls) == 2


def test_what_the_primary_may_have_taken_is_never_moved_to_the_secondary(
    store: MemoryStateStore, clock: Clock
) -> None:
    primary, secondary = _senders(LOST)
    sender = _failover(primary, secondary, _breaker(store, clock, threshold=1))
    results = sender.send_bulk(_messages(3))
    assert secondary.bulk_calls == []
    assert all(r.maybe_accepted and r.provider == PRIMARY for r in results.values())


def test_pinned_messages_go_to_their_provider_whatever_the_breaker_says(
    store: MemoryStateStore, clock: Clock
) -> None:
    primary, secondary = _senders()
    breaker = _breaker(store, clock, threshold=1)
    breaker.failed("down")
    sender = _failover(primary, secondary, breaker)
    results = sender.send_bulk(_messages(2, pinned=PRIMARY) + _messages(1))
    assert [len(c) for c in primary.bulk_calls] == [2] and [len(c) for c in secondary.bulk_calls] == [1]
    assert {r.provider for r in results.values()} == {PRIMARY, SECONDARY}


def test_traffic_returns_to_the_primary_after_a_probe_and_an_alert_says_so(
    store: MemoryStateStore, clock: Clock
) -> None:
    primary, secondary = _senders()
    breaker = _breaker(store, clock, threshold=1)
    breaker.failed("down")
    transitions: list[Transition] = []
    sender = _failover(primary, secondary, breaker, transitions)
    sender.send_bulk(_messages(1))
    assert len(secondary.bulk_calls) == 1
    clock.now += 61
    results = sender.send_bulk(_messages(1))
    assert [t.to for t in transitions] == [PRIMARY]
    assert all(r.provider == PRIMARY for r in results.values()) and len(primary.bulk_calls) == 1


def test_otp_fails_over_like_bulk(store: MemoryStateStore, clock: Clock) -> None:
    primary, secondary = _senders(DOWN)
    sender = _failover(primary, secondary, _breaker(store, clock, threshold=1))
    result = sender.send_otp("254712000000", "code 1234")
    assert result.accepted and result.provider == SECONDARY
    assert len(primary.otp_calls) == 1 and len(secondary.otp_calls) == 1


# -- through the dispatcher: the ledger and the claims -------------------------------------------------


def test_the_ledger_names_the_provider_and_a_lost_answer_pins_the_retry_to_its_provider(
    store: MemoryStateStore, clock: Clock
) -> None:
    outcome = {"primary": LOST}
    primary = FakeSender(lambda m, t: outcome["primary"], name=PRIMARY)
    secondary = FakeSender(name=SECONDARY)
    breaker = _breaker(store, clock, threshold=1)
    ledger, claims = MemoryLedger(), MemoryClaims()
    dispatcher = Dispatcher(_failover(primary, secondary, breaker), ledger, claims, ListMetrics())
    body = json.dumps({"idempotency_key": "QKX1", "to": ["0712000001"], "text": "Received KES 50"})

    [first] = dispatcher.dispatch([Inbound("r1", body)])
    assert first.retry and breaker.read()["state"] == OPEN  # the primary was down: the breaker opened
    [entry] = ledger.entries.values()
    assert entry.status is Status.RETRYING and entry.provider == PRIMARY
    assert claims.pins == {("QKX1", entry.recipient_ref): PRIMARY}

    # Redelivered while the breaker is open: it still goes to the primary, which may have it already.
    outcome["primary"] = OK
    dispatcher.dispatch([Inbound("r1", body)])
    assert secondary.sent == [] and len(primary.sent) == 2
    [entry] = ledger.entries.values()
    assert entry.status is Status.SENT and entry.provider == PRIMARY

    # A new message goes to the secondary, and the ledger says so.
    other = json.dumps({"idempotency_key": "QKX2", "to": ["0712000002"], "text": "Received KES 70"})
    dispatcher.dispatch([Inbound("r2", other)])
    assert ledger.get("QKX2")[0].provider == SECONDARY and len(secondary.sent) == 1


def test_the_primarys_try_again_in_five_minutes_does_not_hold_a_message_that_can_go_elsewhere(
    store: MemoryStateStore, clock: Clock
) -> None:
    busy = SendResult(Disposition.RETRY_LATER, "Internal error, try again after 5 minutes", 4090)
    primary, secondary = _senders(busy)
    sender = _failover(primary, secondary, _breaker(store, clock, threshold=3))
    [result] = sender.send_bulk(_messages(1)).values()
    assert result.code == 4090 and result.disposition is Disposition.RETRY  # back in seconds, not minutes
    assert sender.send_otp("254712000000", "code").disposition is Disposition.RETRY


def test_the_alert_names_the_change_once_per_transition_and_never_a_full_number() -> None:
    at = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    down = alert_for(Transition(SECONDARY, at, "Failed for 254712345678: system error"), "en")
    back = alert_for(Transition(PRIMARY, at, "the primary answered"), "en")
    assert down.template == "alert" and down.data["title"].startswith("SMS provider down")
    assert back.data["title"].startswith("SMS provider back")
    assert down.idempotency_key != back.idempotency_key
    assert "254712345678" not in json.dumps(down.data)
    assert down.fast  # alerts take the fast lane
