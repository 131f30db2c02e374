"""The reconciler service over the in-memory ledger and agenda: what is due is released once, reports
are asked for with growing patience, and what never reports ends EXPIRED with its reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tuma.models.delivery_callback import DeliveryCallback
from tuma.models.ledger import CancelOutcome, DueCheck, ReportOutcome, Status
from tuma.models.privacy import SendWindow
from tuma.models.provider_answers import DeliveryReport, ProviderError
from tuma.models.provider_codes import Disposition
from tuma.ports import Migration
from tuma.security.number_keys import NumberKeys
from tuma.services.delivery_reports import update_for
from tuma.services.privacy import Privacy
from tuma.services.reconciler import Patience, Reconciler
from tuma.services.send_path.batch import Inbound
from tuma.services.send_path.pipeline import Dispatcher

from tests.unit.fakes import (
    FakeSender,
    ListMetrics,
    MemoryAgenda,
    MemoryClaims,
    MemoryLedger,
    MemoryOutbox,
    MemoryPrivacyStore,
)

NOON = datetime(2026, 11, 26, 9, tzinfo=UTC)
PATIENCE = Patience(first_check=timedelta(minutes=2), max_interval=timedelta(hours=2), max_calls=50)


def _report(description: str | None) -> DeliveryReport:
    body = {"response-code": 200, "message-id": "m-1"}
    return DeliveryReport.model_validate(
        body | ({"delivery-description": description} if description else {})
    )


class Rig:
    """A dispatcher and a reconciler sharing one ledger, agenda and outbox, on a clock the test moves."""

    def __init__(
        self, ask: Callable[[str], DeliveryReport | None] = lambda _: None, window: SendWindow | None = None
    ) -> None:
        self.now = NOON
        self.agenda = MemoryAgenda()
        self.ledger = MemoryLedger(self.agenda)
        self.outbox = MemoryOutbox()
        self.metrics = ListMetrics()
        self.sender = FakeSender()
        self.asked: list[str] = []
        self.pauses: list[float] = []

        def asking(message_id: str) -> DeliveryReport | None:
            self.asked.append(message_id)
            return ask(message_id)

        self.dispatcher = Dispatcher(
            self.sender,
            self.ledger,
            MemoryClaims(),
            self.metrics,
            agenda=self.agenda,
            clock=lambda: self.now,
            window=window,
            privacy=Privacy(
                MemoryPrivacyStore(),
                NumberKeys(lambda: b"k" * 48),
                require_consent=False,
                clock=lambda: self.now,
            ),
        )
        self.reconciler = Reconciler(
            self.ledger,
            self.agenda,
            {"primary": asking},
            self.outbox,
            self.metrics,
            patience=PATIENCE,
            sleep=self.pauses.append,
        )

    def send(self, key: str, **body: object) -> None:
        text = {} if "template" in body else {"text": f"hello {key}"}
        message = {"idempotency_key": key, "to": ["0712345678"]} | text | body
        self.dispatcher.dispatch([Inbound(key, json.dumps(message, default=str))])

    def run(self, after: timedelta) -> None:
        self.now = NOON + after
        self.reconciler.run(self.now)

    def status(self, key: str) -> Status:
        [entry] = self.ledger.get(key)
        return entry.status


def test_a_sent_message_is_checked_after_the_first_wait_and_a_final_report_ends_its_checks() -> None:
    rig = Rig(lambda _: _report("DeliveredToTerminal"))
    rig.send("k1")
    assert rig.status("k1") is Status.SENT and len(rig.agenda.checks) == 1
    rig.run(timedelta(minutes=1))
    assert rig.asked == []  # not due yet
    rig.run(timedelta(minutes=3))
    assert rig.asked == ["m-1"] and rig.status("k1") is Status.DELIVERED
    assert rig.agenda.checks == {}
    [entry] = rig.ledger.get("k1")
    assert entry.final_via == "polling"
    assert rig.metrics.counts["DeliveryReportsByPolling"] == 1
    assert rig.metrics.measures["SecondsToFinalStatus"] == [180.0]


def test_no_report_yet_asks_again_ever_less_often_up_to_the_ceiling() -> None:
    rig = Rig()
    rig.send("k2")
    waits = []
    for _ in range(7):
        [check] = rig.agenda.checks.values()
        rig.run(check.due_at - NOON)
        [later] = rig.agenda.checks.values()
        waits.append(later.due_at - check.due_at)
    assert waits == [timedelta(minutes=m) for m in (4, 8, 16, 32, 64, 120, 120)]
    assert rig.status("k2") is Status.SENT and rig.metrics.counts["DeliveryChecksNotYet"] == 7


def test_a_report_in_progress_is_recorded_and_the_checks_go_on() -> None:
    rig = Rig(lambda _: _report("SentToNetwork"))
    rig.send("k3")
    rig.run(timedelta(minutes=3))
    [entry] = rig.ledger.get("k3")
    assert entry.status is Status.SENT and entry.delivery_status == "SentToNetwork"
    [check] = rig.agenda.checks.values()
    assert check.attempts == 1


def test_a_provider_that_fails_is_asked_again_later_and_nothing_is_concluded() -> None:
    def failing(_: str) -> DeliveryReport | None:
        raise ProviderError(Disposition.RETRY, "HTTP 502", http_status=502)

    rig = Rig(failing)
    rig.send("k4")
    rig.run(timedelta(minutes=3))
    assert rig.status("k4") is Status.SENT and len(rig.agenda.checks) == 1


def test_after_the_patience_a_message_with_no_report_expires_with_its_reason_and_a_late_report_still_wins() -> (
    None
):
    rig = Rig()
    rig.send("k5")
    rig.run(PATIENCE.give_up_after + timedelta(minutes=1))
    [entry] = rig.ledger.get("k5")
    assert entry.status is Status.EXPIRED and entry.reason == "no delivery report within 72 hours"
    assert rig.agenda.checks == {} and rig.metrics.counts["MessagesExpired"] == 1
    late = update_for(
        DeliveryCallback.model_validate({"messageid": "m-1", "description": "DeliveredToTerminal"})
    )
    assert rig.ledger.apply_delivery(late) is ReportOutcome.APPLIED
    assert rig.status("k5") is Status.DELIVERED


def test_a_check_for_a_provider_no_longer_configured_waits_instead_of_failing_the_run() -> None:
    rig = Rig()
    rig.agenda.add_checks([DueCheck("old", "n:1", "s-9", NOON, NOON, provider="secondary")])
    rig.run(timedelta(minutes=1))
    [check] = rig.agenda.checks.values()
    assert check.provider == "secondary" and check.due_at > NOON + timedelta(minutes=1)
    assert rig.asked == []


def test_the_provider_is_asked_at_its_rate_and_at_most_max_calls_a_run() -> None:
    rig = Rig()
    rig.agenda.add_checks([DueCheck(f"k{i}", "n:1", f"m-{i}", NOON, NOON) for i in range(60)])
    rig.run(timedelta(minutes=1))
    assert len(rig.asked) == PATIENCE.max_calls
    assert rig.pauses == [1 / PATIENCE.rate] * (PATIENCE.max_calls - 1)


# -- scheduling: the dispatcher holds, the reconciler releases ---------------------------------------


def test_a_message_for_later_is_held_scheduled_then_released_once_and_sent() -> None:
    rig = Rig()
    due = NOON + timedelta(hours=2)
    rig.send("later-1", send_at=due.isoformat())
    assert rig.sender.sent == [] and rig.status("later-1") is Status.SCHEDULED
    assert list(rig.agenda.held) == ["later-1"] and rig.metrics.counts["MessagesScheduled"] == 1
    rig.send("later-1", send_at=due.isoformat())  # redelivered: held once
    assert rig.metrics.counts["DuplicatesSkipped"] == 1 and len(rig.agenda.held) == 1

    rig.run(timedelta(hours=1))
    assert rig.outbox.messages == []
    rig.run(timedelta(hours=2))
    rig.run(timedelta(hours=2, minutes=1))  # an overlapping run releases nothing more
    [released] = rig.outbox.messages
    assert released.idempotency_key == "later-1" and released.send_at is None
    rig.dispatcher.dispatch([Inbound("r", released.to_json())])
    assert rig.sender.sent == [("254712345678", "hello later-1")] and rig.status("later-1") is Status.SENT


def test_a_cancelled_message_is_never_released_and_a_second_cancel_says_it_is_cancelled() -> None:
    rig = Rig()
    rig.send("later-2", send_at=(NOON + timedelta(hours=1)).isoformat())
    assert rig.agenda.cancel("later-2") is CancelOutcome.CANCELLED
    assert rig.status("later-2") is Status.CANCELLED
    assert rig.agenda.cancel("later-2") is CancelOutcome.CANCELLED
    assert rig.agenda.cancel("never") is CancelOutcome.NOT_SCHEDULED
    rig.run(timedelta(hours=2))
    assert rig.outbox.messages == []


def test_a_message_due_now_is_not_held() -> None:
    rig = Rig()
    rig.send("now-1", send_at=(NOON + timedelta(seconds=2)).isoformat())
    assert rig.status("now-1") is Status.SENT and rig.agenda.held == {}


def test_a_promotion_released_as_its_window_closes_waits_for_the_next_opening_and_then_goes() -> None:
    rig = Rig(window=SendWindow("08:00-20:00"))
    offer = {"template": "promotion", "data": {"offer": "20% off uniforms", "until": "Friday"}}
    rig.now = datetime(2026, 11, 26, 16, 59, tzinfo=UTC)  # 19:59 in Nairobi
    rig.send("promo-late", **offer, send_at=(rig.now + timedelta(seconds=30)).isoformat())
    rig.reconciler.run(rig.now + timedelta(seconds=40))
    [released] = rig.outbox.messages
    rig.now = datetime(2026, 11, 26, 17, 0, 5, tzinfo=UTC)  # the sender gets to it at 20:00:05
    rig.dispatcher.dispatch([Inbound("r", released.to_json())])
    assert rig.sender.sent == []
    [held] = rig.agenda.held.values()  # held again, not taken for a duplicate of itself
    assert held.due_at == datetime(2026, 11, 27, 5, 0, tzinfo=UTC)  # 08:00 in Nairobi
    rig.reconciler.run(held.due_at)
    rig.now = held.due_at + timedelta(seconds=5)
    rig.dispatcher.dispatch([Inbound("r", rig.outbox.messages[-1].to_json())])
    assert [text for _, text in rig.sender.sent] and rig.status("promo-late") is Status.SENT


class CountdownMigration(Migration):
    """A migration with `left` items to move, `per_run` at a time."""

    def __init__(self, left: int, per_run: int) -> None:
        self.left, self.per_run, self.runs = left, per_run, 0

    def run(self) -> int:
        self.runs += 1
        moved = min(self.left, self.per_run)
        self.left -= moved
        return moved


def test_what_an_upgrade_left_to_do_is_done_a_little_each_run_and_only_with_time_to_spare() -> None:
    rig, migration, seconds = Rig(), CountdownMigration(left=25, per_run=10), [60.0]
    reconciler = Reconciler(
        rig.ledger,
        rig.agenda,
        {},
        rig.outbox,
        rig.metrics,
        migrations=(migration,),
        time_left=lambda: seconds[0],
    )
    assert [reconciler.run(NOON).migrated for _ in range(4)] == [10, 10, 5, 0]
    seconds[0] = 10.0  # the due work took the run's time: the migration waits for the next one
    assert reconciler.run(NOON).migrated == 0 and migration.runs == 4
