"""Pull reconciliation against in-memory ports: every payment M-Pesa lists gets one receipt, a window
is all or nothing, and nothing is skipped when Daraja misbehaves."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tuma.models.daraja import DarajaFailure
from tuma.models.ledger import Confirmation, PaymentSeen, Status
from tuma.models.sources import PaymentSource
from tuma.ports import DarajaPull
from tuma.services.intake import Intake
from tuma.services.pull import PullReconciler, checkpoint_name

from tests.unit.fakes import ListMetrics, MemoryLedger, MemoryOutbox, MemoryStateStore

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def row(receipt: str, amount: Any = "150.00", msisdn: str = "254712345678", **extra: Any) -> dict[str, Any]:
    return {
        "transactionId": receipt,
        "trxDate": "2026-12-01T11:30:00Z",
        "msisdn": msisdn,
        "transactiontype": "c2b-pay-bill-debit",
        "billreference": "INV-1",
        "amount": amount,
        "organizationname": "Duka Ltd",
    } | extra


class ScriptedDaraja(DarajaPull):
    """Pull Transactions as a list of rows paged `page_size` at a time; `fail_at` pages raise."""

    def __init__(self, rows: list[dict[str, Any]], page_size: int = 2) -> None:
        self.rows = rows
        self.page_size = page_size
        self.fail_at: dict[int, DarajaFailure] = {}
        self.calls: list[tuple[str, datetime, datetime, int]] = []

    def pull(self, short_code: str, start: datetime, end: datetime, offset: int) -> list[dict[str, Any]]:
        self.calls.append((short_code, start, end, offset))
        page = len(self.calls) - 1
        if page in self.fail_at:
            raise self.fail_at[page]
        return self.rows[offset : offset + self.page_size]


class Rig:
    def __init__(self, rows: Sequence[dict[str, Any]], overlap_minutes: int = 120) -> None:
        self.daraja = ScriptedDaraja(list(rows))
        self.state = MemoryStateStore()
        self.outbox = MemoryOutbox()
        self.ledger = MemoryLedger()
        self.metrics = ListMetrics()
        self.now = NOW
        self.reconciler = PullReconciler(
            self.daraja,
            self.state,
            Intake(self.outbox, self.ledger),
            self.ledger,
            self.metrics,
            short_codes=lambda: ("600000",),
            overlap=timedelta(minutes=overlap_minutes),
            now=lambda: self.now,
        )


def test_every_page_is_read_then_each_unknown_payment_is_queued_once_as_learnt_by_pull() -> None:
    rig = Rig([row("QK1"), row("QK2"), row("QK3")])
    [run] = rig.reconciler.run().runs
    assert [call[3] for call in rig.daraja.calls] == [0, 2, 3]  # pages of 2, until an empty one
    assert (run.rows, run.seen, run.recovered, run.failure) == (3, 3, 3, None)
    assert [m.idempotency_key for m in rig.outbox.messages] == ["QK1", "QK2", "QK3"]
    assert {m.source for m in rig.outbox.messages} == {"pull"}
    assert rig.outbox.messages[0].data["amount"] == "150.00"
    assert rig.outbox.messages[0].data["short_code"] == "600000"
    assert rig.ledger.payments["QK1"]["sources"] == {"pull"}
    assert rig.metrics.counts["PaymentsRecoveredByPull"] == 3
    first = (NOW - timedelta(hours=2)).isoformat()  # the first window: every one is whole since
    assert rig.state.documents[checkpoint_name("600000")] == {
        "until": NOW.isoformat(),
        "covered_since": first,
    }


def test_a_payment_its_callback_reported_is_noted_not_queued_and_counted_seen_once() -> None:
    rig = Rig([row("QK1"), row("QK2")])
    rig.ledger.note_payment(PaymentSeen("QK1", PaymentSource.C2B))
    [run] = rig.reconciler.run().runs
    assert [m.idempotency_key for m in rig.outbox.messages] == ["QK2"]
    assert (run.seen, run.recovered) == (2, 1)
    assert rig.ledger.payments["QK1"]["sources"] == {"c2b", "pull"}
    rig.now += timedelta(minutes=15)
    [again] = rig.reconciler.run().runs
    assert (again.seen, again.recovered) == (0, 0)  # the same window read again counts nothing twice
    # Known only through pull: queued again at each read, so a half-queued receipt is never lost;
    # the sender's claims keep it to one SMS.
    assert [m.idempotency_key for m in rig.outbox.messages] == ["QK2", "QK2"]


def test_the_window_runs_from_the_checkpoint_minus_the_overlap_and_never_beyond_48_hours() -> None:
    rig = Rig([])
    rig.reconciler.run()
    assert rig.daraja.calls[0][1:3] == (NOW - timedelta(minutes=120), NOW)
    rig.now = NOW + timedelta(minutes=15)
    rig.reconciler.run()
    assert rig.daraja.calls[1][1] == NOW - timedelta(minutes=120)  # from the last good end, minus 2 h
    rig.now = NOW + timedelta(days=3)  # the job was down three days
    [run] = rig.reconciler.run().runs
    start = rig.daraja.calls[2][1]
    assert run.clipped and rig.now - start < timedelta(hours=48)


@pytest.mark.parametrize(
    "failure",
    [
        DarajaFailure("unreachable", "ReadTimeoutError"),
        DarajaFailure("refused", "Invalid Access Token", "401.001"),
        DarajaFailure("unreadable", "HTTP 200, not JSON"),
    ],
)
def test_a_failure_on_any_page_applies_nothing_and_keeps_the_window_for_the_next_run(
    failure: DarajaFailure,
) -> None:
    rig = Rig([row("QK1"), row("QK2"), row("QK3")])
    rig.daraja.fail_at = {1: failure}
    [run] = rig.reconciler.run().runs
    assert run.failure and rig.outbox.messages == [] and rig.ledger.payments == {}
    # Not moved: only where the failed window began is remembered, so the next one starts there.
    assert rig.state.documents[checkpoint_name("600000")] == {"from": (NOW - timedelta(hours=2)).isoformat()}
    assert rig.metrics.counts["DarajaPullFailed"] == 1
    rig.now += timedelta(hours=1)
    [healed] = rig.reconciler.run().runs
    assert healed.failure is None and healed.recovered == 3
    assert rig.daraja.calls[-1][1] == NOW - timedelta(minutes=120)  # the failed window is read again
    assert rig.state.documents[checkpoint_name("600000")] == {
        "until": rig.now.isoformat(),
        "covered_since": (NOW - timedelta(minutes=120)).isoformat(),
    }


def test_a_receipt_the_queue_refuses_fails_the_run_and_comes_back_with_the_window() -> None:
    rig = Rig([row("QK1")])
    rig.outbox.down = True
    [run] = rig.reconciler.run().runs
    assert run.failure and "until" not in rig.state.documents[checkpoint_name("600000")]
    rig.outbox.down = False
    rig.reconciler.run()
    assert [m.idempotency_key for m in rig.outbox.messages] == ["QK1"]


def test_a_bad_amount_is_rejected_with_its_reason_once_and_other_kinds_of_rows_make_no_receipt() -> None:
    rig = Rig([row("QK1", amount="ten"), row("QK2", transactiontype="b2c-payment"), row("QK3")])
    [run] = rig.reconciler.run().runs
    assert (run.rejected, run.skipped, run.recovered) == (1, 1, 1)
    [entry] = rig.ledger.get("QK1")
    assert entry.status is Status.REJECTED and entry.source == "pull"
    assert (entry.reason or "").startswith("pulled transaction cannot make a receipt: amount")
    assert [m.idempotency_key for m in rig.outbox.messages] == ["QK3"]
    rig.now += timedelta(minutes=15)
    [again] = rig.reconciler.run().runs
    assert again.rejected == 0 and rig.metrics.counts["PaymentsRejected"] == 1


def test_a_masked_number_with_no_directory_is_recorded_undeliverable_as_on_the_callback_path() -> None:
    rig = Rig([row("QK1", msisdn="2547 ***** 126")])
    [run] = rig.reconciler.run().runs
    assert run.recovered == 1 and rig.outbox.messages == []
    [entry] = rig.ledger.get("QK1")
    assert entry.status is Status.UNDELIVERABLE and entry.source == "pull"
    assert entry.reason == "M-Pesa masked the payer's number, and no customer directory is configured"


def test_field_names_in_any_case_and_numbers_as_numbers_are_read() -> None:
    rig = Rig(
        [{"TransactionID": "qk7", "TRXDATE": "2026-12-01T11:30:00Z", "MSISDN": 254712345678, "Amount": 233.8}]
    )
    rig.reconciler.run()
    [message] = rig.outbox.messages
    assert message.idempotency_key == "QK7" and message.to == ("254712345678",)
    assert message.data["amount"] == "233.8"


def test_a_callbacks_payment_mpesas_record_never_lists_is_marked_unconfirmed_once_after_two_windows() -> None:
    rig = Rig([row("QK1")])
    paid = NOW + timedelta(minutes=5)
    for reference in ("QK1", "QKFAKE1", "QKFAKE2"):  # a real one the pull lists, and two forgeries
        rig.ledger.note_payment(PaymentSeen(reference, PaymentSource.C2B, amount="50000", paid_at=paid))
    rig.ledger.note_payment(PaymentSeen("QKOWN1", PaymentSource.PAYMENTS_API, paid_at=paid))
    assert rig.reconciler.run().unconfirmed == []  # the first run: nothing before its own window
    rig.now = paid + timedelta(minutes=20)
    assert rig.reconciler.run().unconfirmed == []  # within two windows: Daraja may list it late
    rig.now = paid + timedelta(minutes=31)
    report = rig.reconciler.run()
    assert sorted(report.unconfirmed) == ["QKFAKE1", "QKFAKE2"]  # not the business's own payment
    assert rig.metrics.counts["PaymentsUnconfirmed"] == 2
    assert rig.ledger.payment_confirmation("QKFAKE1") is Confirmation.UNCONFIRMED
    assert rig.ledger.payment_confirmation("QK1") is Confirmation.CONFIRMED
    rig.now += timedelta(minutes=15)
    assert rig.reconciler.run().unconfirmed == []  # marked once
    assert rig.metrics.counts["PaymentsUnconfirmed"] == 2


def test_nothing_is_marked_unconfirmed_while_a_window_fails_or_before_the_windows_cover_it() -> None:
    rig = Rig([row("QK1")])
    rig.ledger.note_payment(PaymentSeen("QKOLD1", PaymentSource.C2B, paid_at=NOW - timedelta(hours=5)))
    rig.ledger.note_payment(PaymentSeen("QKNEW1", PaymentSource.C2B, paid_at=NOW + timedelta(minutes=1)))
    rig.reconciler.run()
    rig.now = NOW + timedelta(hours=1)
    rig.daraja.fail_at = {len(rig.daraja.calls): DarajaFailure("unreachable", "ReadTimeoutError")}
    failed = rig.reconciler.run()
    assert failed.failed and failed.unconfirmed == []
    rig.now = NOW + timedelta(hours=2)
    # Before the pull's first window (five hours ago): M-Pesa's record was never read for it.
    assert rig.reconciler.run().unconfirmed == ["QKNEW1"]
