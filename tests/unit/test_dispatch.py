from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from tuma.formatting.phones import hash_msisdn
from tuma.models.ledger import LedgerEntry, Status
from tuma.models.provider_codes import Disposition
from tuma.models.sending import SendResult
from tuma.services.send_path.batch import Inbound
from tuma.services.send_path.pipeline import Dispatcher

from tests.unit.fakes import OK, FakeSender, ListMetrics, MemoryClaims, MemoryLedger


def _dispatcher(
    sender: FakeSender | None = None, **kwargs: Any
) -> tuple[Dispatcher, FakeSender, MemoryLedger, MemoryClaims, ListMetrics]:
    sender = sender or FakeSender()
    ledger, claims, metrics = MemoryLedger(), MemoryClaims(), ListMetrics()
    return Dispatcher(sender, ledger, claims, metrics, **kwargs), sender, ledger, claims, metrics


def _msg(key: str, to: list[str], **body: Any) -> str:
    body.setdefault("text", f"hello {key}")
    return json.dumps({"idempotency_key": key, "to": to, **body})


def test_a_batch_goes_out_in_one_bulk_call_and_lands_in_the_ledger() -> None:
    dispatcher, sender, ledger, _, metrics = _dispatcher()
    batch = [Inbound(f"r{i}", _msg(f"k{i}", [f"07123456{i:02d}"])) for i in range(30)]
    outcomes = dispatcher.dispatch(batch)
    assert not any(o.retry for o in outcomes)
    assert len(sender.bulk_calls) == 1 and len(sender.bulk_calls[0]) == 30
    assert ledger.statuses() == {"SENT": 30}
    assert metrics.counts["MessagesSent"] == 30 and metrics.counts["SmsParts"] == 30


def test_the_same_key_and_recipient_is_sent_once_across_batches_and_within_one() -> None:
    dispatcher, sender, _ledger, _, metrics = _dispatcher()
    dispatcher.dispatch(
        [Inbound("a", _msg("pay-1", ["0712345678"])), Inbound("b", _msg("pay-1", ["+254712345678"]))]
    )
    dispatcher.dispatch([Inbound("a", _msg("pay-1", ["712345678"]))])
    assert sender.sent == [("254712345678", "hello pay-1")]
    assert metrics.counts["DuplicatesSkipped"] == 2


def test_one_bad_record_does_not_stop_the_rest() -> None:
    dispatcher, sender, ledger, _, metrics = _dispatcher()
    batch = [
        Inbound("good", _msg("k1", ["0712345678"])),
        Inbound("notjson", "{{{"),
        Inbound("nokey", json.dumps({"to": ["0712345678"], "text": "x"})),
        Inbound("badtemplate", _msg("k2", ["0712345678"], text=None, template="nosuch")),
        Inbound("badnumber", _msg("k3", ["0712", "0722000000"])),
        Inbound("toolong", _msg("k4", ["0712345678"], text="x" * 1000)),
        Inbound("emoji", _msg("k5", ["0712345678"], text="🙏")),
        Inbound("masked", _msg("k6", ["2547 ***** 126"])),
    ]
    outcomes = {o.record_id: o for o in dispatcher.dispatch(batch)}
    assert not any(o.retry for o in outcomes.values())  # none of these can ever succeed
    assert sorted(m for m, _ in sender.sent) == ["254712345678", "254722000000"]
    by_key = {(e.idempotency_key, e.status) for e in ledger.entries.values()}
    assert ("k2", Status.REJECTED) in by_key
    assert ("k3", Status.REJECTED) in by_key and ("k3", Status.SENT) in by_key
    assert ("k4", Status.REJECTED) in by_key
    assert ("k5", Status.REJECTED) in by_key
    assert ("k6", Status.UNDELIVERABLE) in by_key
    reasons = {
        e.idempotency_key: e.reason or "" for e in ledger.entries.values() if e.status is not Status.SENT
    }
    assert "unknown template" in reasons["k2"]
    assert "SMS parts" in reasons["k4"]
    assert "masked" in reasons["k6"]
    assert metrics.counts["MalformedMessages"] == 2  # the body that is not JSON and the one without a key


def test_only_retryable_failures_come_back_with_a_delay_fitting_the_cause() -> None:
    def decide(mobile: str, text: str) -> SendResult:
        return {
            "254712345001": SendResult(Disposition.RETRY, "HTTP 502 from the provider"),
            "254712345002": SendResult(Disposition.RETRY_LATER, "Internal error", 4090),
            "254712345003": SendResult(Disposition.REJECT, "Invalid mobile number", 1003),
            "254712345004": SendResult(Disposition.CONFIG, "Invalid sender id", 1001),
        }.get(mobile, OK)

    dispatcher, _, ledger, claims, metrics = _dispatcher(FakeSender(decide))
    batch = [Inbound(f"r{i}", _msg(f"k{i}", [f"0712345{i:03d}"]), receive_count=2) for i in range(1, 6)]
    outcomes = {o.record_id: o for o in dispatcher.dispatch(batch)}
    assert {r: (o.retry, o.delay_seconds) for r, o in outcomes.items()} == {
        "r1": (True, 30),  # transient: 15 s doubled on the second receive
        "r2": (True, 300),  # the provider asked for five minutes
        "r3": (False, 0),  # rejected for good
        "r4": (True, 600),  # configuration: an operator must act
        "r5": (False, 0),
    }
    statuses = {e.idempotency_key: e.status for e in ledger.entries.values()}
    assert statuses == {
        "k1": Status.RETRYING,
        "k2": Status.RETRYING,
        "k3": Status.REJECTED,
        "k4": Status.RETRYING,
        "k5": Status.SENT,
    }
    # Failed claims are released so the redelivery can send; settled ones are kept.
    assert ("k1", next(iter(ledger.get("k1"))).recipient_ref) not in claims.records
    assert metrics.counts["ProviderConfigurationErrors"] == 1


def test_a_message_with_several_recipients_is_retried_only_for_the_one_that_failed() -> None:
    calls = {"n": 0}

    def decide(mobile: str, text: str) -> SendResult:
        if mobile == "254722000000":
            calls["n"] += 1
            if calls["n"] == 1:
                return SendResult(Disposition.RETRY, "timeout")
        return OK

    dispatcher, sender, ledger, _, _ = _dispatcher(FakeSender(decide))
    first = dispatcher.dispatch([Inbound("r", _msg("k", ["0712345678", "0722000000"]))])
    assert first[0].retry
    dispatcher.dispatch([Inbound("r", _msg("k", ["0712345678", "0722000000"]), receive_count=2)])
    assert sorted(m for m, _ in sender.sent) == ["254712345678", "254722000000", "254722000000"]
    assert ledger.statuses() == {"SENT": 2}


def test_routes_otp_and_hashed_use_the_transactional_endpoint() -> None:
    dispatcher, sender, _, _, _ = _dispatcher()
    digest = hash_msisdn("254722000000")
    dispatcher.dispatch(
        [
            Inbound("a", _msg("otp-1", ["0712345678"], route="otp")),
            Inbound("b", _msg("r-1", [digest])),
        ]
    )
    assert sender.bulk_calls == []
    assert sender.otp_calls == [("254712345678", "hello otp-1", False), (digest, "hello r-1", True)]


def test_alerts_without_recipients_go_to_the_alert_recipients() -> None:
    dispatcher, sender, _, _, _ = _dispatcher(alert_recipients=["0712345678", "0722000000"])
    dispatcher.dispatch(
        [
            Inbound(
                "a",
                json.dumps(
                    {"idempotency_key": "alert-1", "template": "alert", "data": {"title": "Disk full"}}
                ),
            )
        ]
    )
    assert sorted(m for m, _ in sender.sent) == ["254712345678", "254722000000"]
    assert {t for _, t in sender.sent} == {"ALERT: Disk full"}


def test_a_message_without_recipients_is_rejected() -> None:
    dispatcher, sender, ledger, _, _ = _dispatcher()
    dispatcher.dispatch([Inbound("a", json.dumps({"idempotency_key": "x", "text": "hi"}))])
    assert sender.sent == []
    assert [e.status for e in ledger.get("x")] == [Status.REJECTED]


def test_a_broken_duplicate_does_not_overwrite_a_sent_entry() -> None:
    dispatcher, _, ledger, _, _ = _dispatcher()
    dispatcher.dispatch([Inbound("a", _msg("pay-9", ["0712345678"]))])
    dispatcher.dispatch([Inbound("b", _msg("pay-9", ["0712345678"], text=None, template="nosuch"))])
    assert [e.status for e in ledger.get("pay-9")] == [Status.SENT]


@pytest.mark.parametrize("receive_count", [1, 2, 3, 10])
def test_transient_delay_grows_with_each_receive_and_is_capped(receive_count: int) -> None:
    dispatcher, _, _, _, _ = _dispatcher(FakeSender(lambda m, t: SendResult(Disposition.RETRY, "x")))
    [outcome] = dispatcher.dispatch([Inbound("r", _msg("k", ["0712345678"]), receive_count=receive_count)])
    assert outcome.delay_seconds == min(900, 15 * 2 ** (receive_count - 1))


def _receipt(key: str, to: list[str], source: str) -> str:
    return json.dumps(
        {
            "idempotency_key": key,
            "to": to,
            "template": "receipt",
            "data": {"reference": key, "amount": "150"},
            "source": source,
        }
    )


def test_one_payment_reported_with_different_numbers_gets_one_receipt_at_the_best_number() -> None:
    dispatcher, sender, ledger, _, metrics = _dispatcher()
    hashed = hash_msisdn("254712345678")
    dispatcher.dispatch(
        [
            Inbound("c2b", _receipt("QKX1", [hashed], "c2b")),
            Inbound("stk", _receipt("QKX1", ["0712345678"], "stk")),
            Inbound("api", _receipt("QKX1", ["0722000000"], "payments-api")),  # another number altogether
        ]
    )
    assert [mobile for mobile, _ in sender.sent] == ["254712345678"]  # one SMS, the plain number
    assert metrics.counts["DuplicatesSkipped"] == 2
    [entry] = ledger.get("QKX1")
    assert entry.status.value == "SENT" and entry.text and entry.text.startswith("QKX1 confirmed")


def test_a_later_report_of_a_receipt_already_sent_sends_nothing_whatever_its_number() -> None:
    dispatcher, sender, _, _, _ = _dispatcher()
    dispatcher.dispatch([Inbound("c2b", _receipt("QKX2", [hash_msisdn("254712345678")], "c2b"))])
    dispatcher.dispatch([Inbound("stk", _receipt("QKX2", ["0712345678"], "stk"))])
    assert len(sender.sent) == 1 and sender.otp_calls[0][2] is True  # the hashed route, once


def test_the_payment_record_gives_a_better_number_than_the_message_carries() -> None:
    dispatcher, sender, ledger, _, _ = _dispatcher()
    from tuma.models.ledger import PaymentSeen
    from tuma.models.sources import PaymentSource

    ledger.note_payment(PaymentSeen("QKX3", PaymentSource.STK, "254712345678", 3, "2547*****678"))
    dispatcher.dispatch([Inbound("c2b", _receipt("QKX3", [hash_msisdn("254712345678")], "c2b"))])
    assert sender.sent[0][0] == "254712345678" and sender.otp_calls == []  # bulk route, plain number


def test_alerts_still_go_to_every_recipient() -> None:
    dispatcher, sender, _, _, _ = _dispatcher()
    body = json.dumps(
        {
            "idempotency_key": "a1",
            "to": ["0712345678", "0722000000"],
            "template": "alert",
            "data": {"title": "x"},
        }
    )
    dispatcher.dispatch([Inbound("r", body)])
    assert sorted(m for m, _ in sender.sent) == ["254712345678", "254722000000"]


REJECTED = SendResult(Disposition.REJECT, "Invalid mobile number", 1003)


class _CrashAfterQueued(MemoryLedger):
    """A sender that dies after settling its claims, before its ledger write."""

    def __init__(self) -> None:
        super().__init__()
        self.crash = True

    def write(self, entries: Sequence[LedgerEntry]) -> None:
        if self.crash and any(e.status is not Status.QUEUED for e in entries):
            self.crash = False
            raise RuntimeError("killed")
        super().write(entries)


def test_entries_a_crashed_sender_left_queued_are_completed_from_its_claims_on_redelivery() -> None:
    sender = FakeSender(lambda mobile, text: OK if mobile.endswith("1") else REJECTED)
    ledger, claims, metrics = _CrashAfterQueued(), MemoryClaims(), ListMetrics()
    dispatcher = Dispatcher(sender, ledger, claims, metrics)
    batch = [Inbound("a", _msg("k1", ["0712345671"])), Inbound("b", _msg("k2", ["0712345672"]))]
    with pytest.raises(RuntimeError):
        dispatcher.dispatch(batch)
    assert ledger.statuses() == {"QUEUED": 2}

    dispatcher.dispatch(batch)  # the queue hands the batch again
    assert len(sender.bulk_calls) == 1  # nothing went twice
    by_key = {e.idempotency_key: e for e in ledger.entries.values()}
    assert by_key["k1"].status is Status.SENT and by_key["k1"].provider_message_id == "m-1"
    assert by_key["k2"].status is Status.REJECTED
    assert metrics.counts["LedgerCompleted"] == 2

    dispatcher.dispatch(batch)  # a plain duplicate now: nothing to complete
    assert metrics.counts["LedgerCompleted"] == 2


def test_receipts_still_go_to_the_batchs_number_when_the_payment_records_cannot_be_read() -> None:
    class Throttled(MemoryLedger):
        def best_payers(self, references: Sequence[str]) -> dict[str, str]:
            raise ConnectionError("payment records: some items still unread")

    ledger = Throttled()
    dispatcher = Dispatcher(FakeSender(), ledger, MemoryClaims(), ListMetrics())
    outcomes = dispatcher.dispatch([Inbound("c2b", _receipt("QKX4", ["0712345678"], "c2b"))])
    assert not any(o.retry for o in outcomes) and ledger.statuses() == {"SENT": 1}
