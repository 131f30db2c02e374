"""Each step of the send path alone (tuma.services.send_path), against the in-memory fakes: what it
takes from the batch, what it gives the next step, and what it records."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tuma.formatting.phones import parse_recipient
from tuma.models.ledger import Status
from tuma.models.outbox import OutboxMessage
from tuma.models.privacy import Scope, SendWindow, SuppressionSource
from tuma.models.privacy_records import Suppression
from tuma.models.provider_codes import Disposition
from tuma.models.sending import Claim, Claimed, ClaimState, Delivery, SendResult, Settlement
from tuma.models.templates import Catalog
from tuma.security.number_keys import NumberKeys
from tuma.services.guards import PAUSE, Guards, Limits
from tuma.services.privacy import Privacy
from tuma.services.send_path.addressing import Addresser
from tuma.services.send_path.batch import Batch, Inbound, RetryDelays
from tuma.services.send_path.claiming import Claimer
from tuma.services.send_path.judging import Judge
from tuma.services.send_path.planning import Planner
from tuma.services.send_path.reading import Reader
from tuma.services.send_path.scheduling import Scheduler
from tuma.services.send_path.sending import Transmitter
from tuma.services.send_path.settling import Settler
from tuma.services.storms import collapse_name

from tests.unit.fakes import (
    FakeSender,
    ListMetrics,
    MemoryAgenda,
    MemoryClaims,
    MemoryGuardStore,
    MemoryLedger,
    MemoryOutbox,
    MemoryPrivacyStore,
)

NOON = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 12:00 East Africa Time
EVENING = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 20:00 East Africa Time


def body(key: str, *to: str, **fields: Any) -> str:
    fields.setdefault("text", f"hello {key}")
    return json.dumps({"idempotency_key": key, "to": list(to), **fields})


def batch_of(*bodies: str) -> Batch:
    return Batch([Inbound(f"r{i}", b) for i, b in enumerate(bodies)])


def planned(batch: Batch) -> list[Any]:
    messages = Reader().read(batch, Catalog())
    return Planner(max_parts=3).plan(messages, Catalog())


def test_read_keeps_what_parses_and_records_why_the_rest_cannot_go() -> None:
    batch = batch_of(body("k1", "0712345678"), '{"idempotency_key": "k2", "to": 5}', "not json")
    read = Reader().read(batch, Catalog())
    assert list(read) == ["r0"] and read["r0"].idempotency_key == "k1"
    assert [(e.idempotency_key, e.status) for e in batch.unsendable] == [("k2", Status.REJECTED)]
    assert "malformed outbox message" in (batch.unsendable[0].reason or "")


def test_read_sends_a_storm_summary_with_its_count_and_drops_one_nothing_repeated_in() -> None:
    a, b = collapse_name("alert|db-1|disk"), collapse_name("alert|db-2|disk")
    windows = {a: {"since": NOON.isoformat(), "more": 3}, b: {"since": NOON.isoformat(), "more": 0}}
    summary = {"template": "alert", "data": {"title": "Disk"}, "text": None}
    batch = batch_of(body("s1", summary_of=a, **summary), body("s2", summary_of=b, **summary))
    read = Reader(windows=lambda names: {n: windows[n] for n in names}).read(batch, Catalog())
    assert list(read) == ["r0"]
    assert read["r0"].data["details"] == "and 3 more since 12:00" and read["r0"].summary_of is None


def test_plan_renders_settles_bad_numbers_and_says_who_the_message_is_for() -> None:
    (plan,) = planned(batch_of(body("k1", "0712345678", "0712", "0712345678")))
    assert [d.recipient.value for d in plan.deliveries] == ["254712345678"]
    assert [r.value for r in plan.recipients] == ["254712345678"]
    assert [(e.status, e.reason) for e in plan.settled] == [
        (Status.REJECTED, "invalid number: not a valid Kenyan number")
    ]


def test_hold_puts_a_later_message_on_the_agenda_and_a_promotion_waits_for_the_window() -> None:
    agenda = MemoryAgenda()
    MemoryLedger(agenda)
    later = (EVENING + timedelta(hours=1)).isoformat()
    batch = batch_of(
        body("now", "0712345678"),
        body("later", "0712345678", send_at=later),
        body("promo", "0712345678", category="promotional"),
    )
    plans = Scheduler(agenda, window=SendWindow("08:00-18:00"), clock=lambda: EVENING).hold(
        batch, planned(batch)
    )
    assert [p.message.idempotency_key for p in plans] == ["now"]
    due = {m.idempotency_key: m.due_at for m in agenda.due_messages(EVENING + timedelta(days=1), 10)}
    assert due["promo"] == datetime(2026, 12, 2, 5, 0, tzinfo=UTC)  # 08:00 the next morning
    assert batch.tally._counts["MessagesScheduled"] == 2


def test_address_then_claim_send_a_receipt_once_to_the_best_number_and_a_busy_claim_comes_back() -> None:
    ledger, claims = MemoryLedger(), MemoryClaims()
    ledger.payments["PAY1"] = {"payer": "254712345678", "payer_rank": 3, "sources": {"c2b"}}
    claimer = Claimer(ledger, claims, delays=RetryDelays(transient_base=7), check_after=None)
    masked = "2547 ***** 678"
    batch = batch_of(
        body("PAY1", "0799000111", dedupe="event"),
        body("PAY1", masked, dedupe="event"),
        body("busy", "0712345678"),
    )
    claims.records[("busy", parse_recipient("0712345678").ref)] = None  # another invocation holds it
    candidates = Addresser(ledger).address(batch, [d for p in planned(batch) for d in p.deliveries])
    to_send = claimer.claim(batch, candidates, None)
    assert [(d.idempotency_key, d.recipient.value) for d in to_send] == [("PAY1", "254712345678")]
    assert [(o.record_id, o.retry, o.delay_seconds) for o in batch.outcomes() if o.retry] == [
        ("r2", True, 14)
    ]


def test_address_prefers_the_callbacks_receipt_with_the_name_to_the_pulls_without() -> None:
    pulled = body("PAY2", "0712345678", dedupe="event", source="pull", text="Received KES 10")
    called = body("PAY2", "0712345678", dedupe="event", source="c2b", text="Asante Wanjiru, received KES 10")
    for order in ((pulled, called), (called, pulled)):
        batch = batch_of(*order)
        [best] = Addresser(MemoryLedger()).address(batch, [d for p in planned(batch) for d in p.deliveries])
        assert best.source == "c2b" and "Wanjiru" in best.text.text


def test_claim_completes_an_entry_an_interrupted_attempt_left_queued() -> None:
    ledger, claims = MemoryLedger(), MemoryClaims()
    batch = batch_of(body("k1", "0712345678"))
    (delivery,) = planned(batch)[0].deliveries
    ledger.write([delivery.entry(Status.QUEUED)])
    claims.records[delivery.claim] = Settlement(Status.SENT, NOON, "m-9", "primary")
    to_send = Claimer(ledger, claims, delays=RetryDelays(), check_after=timedelta(minutes=2)).claim(
        batch, [delivery], None
    )
    assert to_send == [] and claims._claim(delivery.claim).state is ClaimState.DONE
    (entry,) = ledger.get("k1")
    assert (entry.status, entry.provider_message_id) == (Status.SENT, "m-9")
    assert [e.provider_message_id for e in batch.completed] == ["m-9"]


def test_judge_suppresses_a_stopped_number_and_parks_what_a_paused_guard_holds() -> None:
    ledger, claims, store = MemoryLedger(), MemoryClaims(), MemoryPrivacyStore()
    keys = NumberKeys(lambda: b"k" * 48)
    privacy = Privacy(store, keys, clock=lambda: NOON)
    stopped = parse_recipient("0712345678")
    store.suppress(
        keys.of_recipient(stopped),
        stopped.masked,
        Suppression(Scope.ALL, "asked", SuppressionSource.OPERATOR, NOON),
    )
    guard_store = MemoryGuardStore()
    guard_store.write(PAUSE, {"categories": ["message"]})
    judge = Judge(ledger, claims, privacy=privacy, guards=Guards(guard_store, Limits()), clock=lambda: NOON)
    batch = batch_of(body("k1", "0712345678", "0722000111"))
    deliveries = planned(batch)[0].deliveries
    # The judge starts its reads before it has the claims made: the claims find them under way.
    reading = threading.Event()
    read_many = guard_store.read_many

    def read_and_tell(names: Sequence[str]) -> dict[str, dict[str, Any]]:
        reading.set()
        return read_many(names)

    guard_store.read_many = read_and_tell  # type: ignore[method-assign]
    overlapped: list[bool] = []

    def claim() -> list[Delivery]:
        overlapped.append(reading.wait(timeout=5))
        return list(deliveries)

    assert judge.judge(batch, deliveries, claim) == []
    assert overlapped == [True]
    statuses = {e.recipient: (e.status, e.reason or "") for e in ledger.get("k1")}
    assert statuses[stopped.masked][0] is Status.SUPPRESSED
    assert statuses["2547*****111"][0] is Status.RETRYING and "paused" in statuses["2547*****111"][1]
    assert batch.parked == {"r0": 120}


def test_send_records_queued_before_the_provider_is_called() -> None:
    ledger = MemoryLedger()
    seen: list[Status] = []

    def decide(mobile: str, text: str) -> SendResult:
        seen.extend(e.status for e in ledger.get("k1"))
        return SendResult(Disposition.SUCCESS, "ok")

    batch = batch_of(body("k1", "0712345678"))
    sent = Transmitter(FakeSender(decide), ledger, clock=lambda: NOON).send(planned(batch)[0].deliveries)
    assert seen == [Status.QUEUED] and sent.queued_at == NOON and sent.results[0].accepted


def test_settle_retries_what_deserves_it_and_parks_what_a_guard_held() -> None:
    ledger, claims, outbox, agenda = MemoryLedger(), MemoryClaims(), MemoryOutbox(), MemoryAgenda()
    batch = batch_of(body("k1", "0712345678", "0722000111"), body("k2", "0733000222"))
    plans = planned(batch)
    for plan in plans:
        batch.messages[plan.record_id] = plan.message
    deliveries = plans[0].deliveries
    for delivery in deliveries:
        claims.claim([delivery.claim], None)
    answers = {"254712345678": Disposition.SUCCESS, "254722000111": Disposition.RETRY_LATER}

    def decide(mobile: str, text: str) -> SendResult:
        return SendResult(answers[mobile], "try later")

    sent = Transmitter(FakeSender(decide), ledger, clock=lambda: NOON).send(deliveries)
    batch.park("r1", 900)
    settler = Settler(
        ledger,
        claims,
        delays=RetryDelays(provider_asked=300),
        agenda=agenda,
        check_after=timedelta(minutes=2),
        parking=outbox,
        clock=lambda: NOON,
    )
    settler.settle(batch, sent)
    assert {e.recipient: e.status for e in ledger.get("k1")} == {
        "2547*****678": Status.SENT,
        "2547*****111": Status.RETRYING,
    }
    assert [(o.record_id, o.delay_seconds) for o in batch.outcomes() if o.retry] == [("r0", 300)]
    assert len(agenda.checks) == 1
    assert [json.loads(b)["idempotency_key"] for b, _, _ in outbox.parked] == ["k2"]


def test_the_outbox_message_model_is_what_every_step_reads() -> None:
    # The steps share the one model of the public contract, not copies of it.
    message = OutboxMessage.model_validate_json(body("k1", "0712345678"))
    assert Reader().read(batch_of(message.to_json()), Catalog())["r0"] == message


# -- across the upgrade to keyed refs (0.3.0) -----------------------------------------------------


def test_a_message_claimed_under_its_unkeyed_ref_before_the_upgrade_is_not_sent_again() -> None:
    """Issue 31: the previous version claimed (key, `n:<digest>`); this one claims (key, `k:<keyed>`).
    A copy of a message the previous version sent (redelivered, or on the dead-letter queue during
    the deploy) finds that claim and goes nowhere; its entry, left QUEUED under the old ref by an
    attempt that crashed, is completed there; and a later copy stops at the new claim."""
    ledger, claims = MemoryLedger(), MemoryClaims()
    batch = batch_of(body("alert-7", "0712345678"), body("alert-8", "0722000111"))
    sent_before, fresh = planned(batch)[0].deliveries + planned(batch)[1].deliveries
    old_ref = str(sent_before.recipient.legacy_ref)
    assert old_ref.startswith("n:") and sent_before.recipient.ref.startswith("k:")
    ledger.write([replace(sent_before.entry(Status.QUEUED), recipient_ref=old_ref)])
    claims.settle([(("alert-7", old_ref), Settlement(Status.SENT, NOON, "m-old", "primary"))])
    claimer = Claimer(ledger, claims, delays=RetryDelays(), check_after=None)

    to_send = claimer.claim(batch, [sent_before, fresh], None)

    assert [d.idempotency_key for d in to_send] == ["alert-8"]
    (entry,) = ledger.get("alert-7")
    assert (entry.recipient_ref, entry.status, entry.provider_message_id) == (old_ref, Status.SENT, "m-old")
    metrics = ListMetrics()
    batch.tally.flush(metrics)
    assert metrics.counts["DuplicatesSkipped"] == 1
    assert claims.look([sent_before.claim])[0].state is ClaimState.DONE  # settled as the old one was
    again = batch_of(body("alert-7", "0712345678"))
    assert claimer.claim(again, planned(again)[0].deliveries, None) == []


def test_a_message_the_previous_version_is_sending_during_the_deploy_comes_back_later() -> None:
    ledger, claims = MemoryLedger(), MemoryClaims()
    batch = batch_of(body("alert-9", "0712345678"))
    (delivery,) = planned(batch)[0].deliveries
    claims.records[("alert-9", str(delivery.recipient.legacy_ref))] = None  # in progress, old version
    claimer = Claimer(ledger, claims, delays=RetryDelays(transient_base=7), check_after=None)
    assert claimer.claim(batch, [delivery], None) == []
    assert [o.retry for o in batch.outcomes()] == [True]
    assert delivery.claim not in claims.records  # ours let go: the old one decides


def test_a_receipt_is_claimed_by_its_event_and_looks_for_no_older_claim() -> None:
    ledger, claims = MemoryLedger(), MemoryClaims()
    looked: list[Sequence[Claim]] = []
    look = claims.look

    def looking(wanted: Sequence[Claim]) -> list[Claimed]:
        looked.append(wanted)
        return look(wanted)

    claims.look = looking  # type: ignore[method-assign,assignment]
    batch = batch_of(body("PAY9", "0712345678", dedupe="event"))
    to_send = Claimer(ledger, claims, delays=RetryDelays(), check_after=None).claim(
        batch, planned(batch)[0].deliveries, None
    )
    assert len(to_send) == 1 and looked == []


def test_a_message_the_previous_version_let_go_pinned_goes_again_to_the_same_provider() -> None:
    """Released by the previous version after an attempt that may have reached the secondary
    unseen: sent again, and only through the secondary, so that the provider drops a duplicate."""
    ledger, claims = MemoryLedger(), MemoryClaims()
    batch = batch_of(body("alert-10", "0712345678"))
    (delivery,) = planned(batch)[0].deliveries
    claims.pins[("alert-10", str(delivery.recipient.legacy_ref))] = "secondary"
    [going] = Claimer(ledger, claims, delays=RetryDelays(), check_after=None).claim(batch, [delivery], None)
    assert going.pinned == "secondary"
