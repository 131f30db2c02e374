"""Pull reconciliation against in-memory ports: every payment M-Pesa lists gets one receipt, a window
is all or nothing, and nothing is skipped when Daraja misbehaves."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tuma.models.daraja import DarajaFailure
from tuma.models.ledger import Confirmation, PaymentSeen, ReceiptMark, Status
from tuma.models.sources import PaymentSource
from tuma.ports import DarajaPull
from tuma.services.intake import Intake
from tuma.services.pull import ZONE_DOUBT, PullReconciler, checkpoint_name

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

    def __init__(self, rows: list[Any], page_size: int = 2) -> None:
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
    def __init__(self, rows: Sequence[Any], overlap_minutes: int = 120, **options: Any) -> None:
        self.daraja = ScriptedDaraja(list(rows))
        self.state = MemoryStateStore()
        self.outbox = MemoryOutbox()
        self.ledger = MemoryLedger()
        self.metrics = ListMetrics()
        self.now = NOW
        self.overlap = timedelta(minutes=overlap_minutes)
        self.build(**options)

    def build(self, *, intake: Intake | None = None, **options: Any) -> None:
        """The reconciler over this rig's fakes (again, after one of them is replaced)."""
        self.reconciler = PullReconciler(
            self.daraja,
            self.state,
            intake or Intake(self.outbox, self.ledger),
            self.ledger,
            self.metrics,
            short_codes=lambda: ("600000",),
            overlap=self.overlap,
            now=lambda: self.now,
            **options,
        )


def test_every_page_is_read_then_each_unknown_payment_is_queued_once_as_learnt_by_pull() -> None:
    rig = Rig([row("QK1"), row("QK2"), row("QK3")])
    [run] = rig.reconciler.run().runs
    assert [call[3] for call in rig.daraja.calls] == [0, 2, 3]  # pages of 2, until an empty one
    assert (run.rows, run.seen, run.recovered, run.failure) == (3, 3, 3, None)
    assert [m.idempotency_key for m in rig.outbox.messages] == ["QK1", "QK2", "QK3"]
    assert rig.outbox.backlog == rig.outbox.messages  # in bulk, behind the live receipts
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
    rig.ledger.note_payment(PaymentSeen("QK1", PaymentSource.C2B, receipt=ReceiptMark.QUEUED))
    [run] = rig.reconciler.run().runs
    assert [m.idempotency_key for m in rig.outbox.messages] == ["QK2"]
    assert (run.seen, run.recovered) == (2, 1)
    assert rig.ledger.payments["QK1"]["sources"] == {"c2b", "pull"}
    rig.now += timedelta(minutes=15)
    [again] = rig.reconciler.run().runs
    assert (again.seen, again.recovered) == (0, 0)  # the same window read again counts nothing twice
    # Queued once: its record says so, so the next read of the window leaves it.
    assert [m.idempotency_key for m in rig.outbox.messages] == ["QK2"]


def test_the_window_runs_from_the_checkpoint_minus_the_overlap_and_never_beyond_48_hours() -> None:
    rig = Rig([])
    rig.reconciler.run()
    # The query starts three hours earlier than the window: either clock Daraja reads it in is covered.
    assert rig.daraja.calls[0][1:3] == (NOW - timedelta(minutes=120) - ZONE_DOUBT, NOW)
    rig.now = NOW + timedelta(minutes=15)
    rig.reconciler.run()
    assert rig.daraja.calls[1][1] == NOW - timedelta(minutes=120) - ZONE_DOUBT  # the last good end, less 2 h
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
    assert rig.daraja.calls[-1][1] == NOW - timedelta(minutes=120) - ZONE_DOUBT  # the failed window again
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
        [
            {
                "TransactionID": "qk7",
                "TRXDATE": "2026-12-01T11:30:00Z",
                "MSISDN": 254712345678,
                "Amount": 233.8,
                "TransactionType": "C2B-Pay-Bill-Debit",
            }
        ]
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


# -- issue 29: the pull never loses a payment --------------------------------------------------------


def test_a_callback_whose_receipt_the_queue_refused_is_made_by_the_pull() -> None:
    """Intake keeps the payment's record only once its receipt is queued: a confirmation that failed
    half-way leaves nothing behind, and the pull asks "did a receipt go?", not "was it heard of?"."""
    from tuma.models.payments import Payment

    rig = Rig([row("QK1")])
    intake = Intake(rig.outbox, rig.ledger)
    rig.outbox.down = True
    payment = Payment(reference="QK1", amount="150", phone="254712345678", source=PaymentSource.C2B)
    with pytest.raises(ConnectionError):
        intake.receipt(payment)
    rig.outbox.down = False
    assert rig.outbox.messages == [] and "QK1" not in rig.ledger.payments
    [run] = rig.reconciler.run().runs
    assert [m.idempotency_key for m in rig.outbox.messages] == ["QK1"] and run.recovered == 1
    assert rig.ledger.payments["QK1"]["receipt"] is ReceiptMark.QUEUED
    # A record some report left without its receipt queued (written before this rule) is made too.
    rig2 = Rig([row("QK2")])
    rig2.ledger.note_payment(PaymentSeen("QK2", PaymentSource.C2B))
    [run2] = rig2.reconciler.run().runs
    assert [m.idempotency_key for m in rig2.outbox.messages] == ["QK2"] and (run2.seen, run2.recovered) == (
        1,
        1,
    )


def _timed(count: int, first: datetime, step: timedelta, prefix: str = "QK") -> list[dict[str, Any]]:
    """Rows one `step` apart from `first`, their trxDate in Kenyan time with Safaricom's `Z`."""
    from tuma.formatting.clock import EAT

    return [
        row(f"{prefix}{n:04d}", trxDate=(first + n * step).astimezone(EAT).strftime("%Y-%m-%dT%H:%M:%SZ"))
        for n in range(count)
    ]


class WindowedDaraja(ScriptedDaraja):
    """Pull that honours the window: rows whose Kenyan trxDate is within [start, end]."""

    def pull(self, short_code: str, start: datetime, end: datetime, offset: int) -> list[dict[str, Any]]:
        from tuma.models.daraja import PullTimes
        from tuma.models.pull import read_trx_date

        self.calls.append((short_code, start, end, offset))
        rows = [r for r in self.rows if start <= read_trx_date(r["trxDate"], PullTimes.KENYA) <= end]
        return rows[offset : offset + self.page_size]


def test_a_window_with_more_rows_than_fit_is_cut_in_two_and_the_next_windows_take_the_rest() -> None:
    rig = Rig([], overlap_minutes=10)
    rig.daraja = WindowedDaraja(_timed(40, NOW - timedelta(hours=6), timedelta(minutes=9)), page_size=5)
    state = {
        "until": (NOW - timedelta(hours=6)).isoformat(),
        "covered_since": (NOW - timedelta(hours=7)).isoformat(),
    }
    rig.state.documents[checkpoint_name("600000")] = state
    rig.build(max_rows=8)
    runs = rig.reconciler.run().runs
    assert len(runs) > 1 and runs[0].halved > 0 and all(r.failure is None for r in runs)
    assert runs[-1].end == NOW  # caught up in one run, window after window
    assert sorted(m.idempotency_key for m in rig.outbox.messages) == [f"QK{n:04d}" for n in range(40)]
    assert len({m.idempotency_key for m in rig.outbox.messages}) == 40  # each once
    assert rig.state.documents[checkpoint_name("600000")]["until"] == NOW.isoformat()


def test_a_run_out_of_time_keeps_what_it_applied_and_the_next_run_finishes_without_repeating_it() -> None:
    rig = Rig([row(f"QK{n:04d}", trxDate=f"2026-12-01T13:{n % 60:02d}:00Z") for n in range(250)])
    rig.daraja.page_size = 1000
    budget = iter([100.0] * 4 + [1.0] * 100)  # enough to read, then for two chunks of a hundred
    rig.build(time_left=lambda: next(budget))
    [run] = rig.reconciler.run().runs
    assert run.unfinished and not run.failure and len(rig.outbox.messages) == 200
    assert "until" not in rig.state.documents[checkpoint_name("600000")]  # the window comes back
    rig.build()
    rig.now += timedelta(minutes=15)
    [done] = rig.reconciler.run().runs
    assert not done.unfinished and done.recovered == 50
    assert sorted(m.idempotency_key for m in rig.outbox.messages) == [f"QK{n:04d}" for n in range(250)]


def test_a_malformed_row_is_one_rejection_and_the_good_rows_beside_it_go() -> None:
    rig = Rig([row("QK1"), row("QK2", billreference={}), row("QK3", amount={"value": 1}), row("QK4"), "junk"])
    [run] = rig.reconciler.run().runs
    assert run.failure is None
    # A field a receipt can go without is left out; one it needs rejects that row alone.
    assert sorted(m.idempotency_key for m in rig.outbox.messages) == ["QK1", "QK2", "QK4"]
    [entry] = rig.ledger.get("QK3")
    assert entry.status is Status.REJECTED
    assert (entry.reason or "").startswith("pulled transaction cannot make a receipt: amount")
    assert run.rejected == 2  # and the row that is not even an object
    rig.now += timedelta(minutes=15)
    [again] = rig.reconciler.run().runs
    assert again.rejected == 0 and len(rig.outbox.messages) == 3


def test_a_receipt_undeliverable_for_a_masked_number_goes_to_the_number_the_pull_has() -> None:
    from tuma.models.mpesa import C2BConfirmation

    rig = Rig([row("QK1", msisdn="254712345678")])
    callback = C2BConfirmation.model_validate(
        {"TransID": "QK1", "TransAmount": "150.00", "MSISDN": "2547 ***** 678", "TransTime": "20261201143000"}
    )
    assert Intake(rig.outbox, rig.ledger).c2b_confirmation(callback).fate.value == "ReceiptsUndeliverable"
    [run] = rig.reconciler.run().runs
    [message] = rig.outbox.messages
    assert message.to == ("254712345678",) and run.recovered == 1
    assert rig.ledger.payments["QK1"]["receipt"] is ReceiptMark.QUEUED
    rig.now += timedelta(minutes=15)
    rig.reconciler.run()
    assert len(rig.outbox.messages) == 1


def test_rows_that_are_no_customer_payment_are_skipped_and_counted_by_kind() -> None:
    rig = Rig(
        [
            row("QK1"),
            row("QK2", transactiontype="c2b-buy-goods-debit"),
            row("QK3", transactiontype="merchant-to-organization-settlement"),
            row("QK4", transactiontype="c2b-pay-bill-reversal"),
            {k: v for k, v in row("QK5").items() if k != "transactiontype"},
        ]
    )
    [run] = rig.reconciler.run().runs
    assert sorted(m.idempotency_key for m in rig.outbox.messages) == ["QK1", "QK2"]
    assert run.skipped_kinds == {
        "merchant-to-organization-settlement": 1,
        "c2b-pay-bill-reversal": 1,
        "(none)": 1,
    }
    assert rig.metrics.counts["PulledRowsSkipped"] == 3


def test_payments_younger_than_the_grace_wait_for_their_callback() -> None:
    rig = Rig([])
    rig.daraja = WindowedDaraja(_timed(2, NOW - timedelta(minutes=10), timedelta(minutes=8)))
    rig.build(grace=timedelta(minutes=5))
    [run] = rig.reconciler.run().runs
    assert run.end == NOW - timedelta(minutes=5)
    assert [m.idempotency_key for m in rig.outbox.messages] == ["QK0000"]  # not the one 2 minutes old
    rig.now += timedelta(minutes=15)
    rig.reconciler.run()
    assert [m.idempotency_key for m in rig.outbox.messages] == ["QK0000", "QK0001"]


def test_trx_date_is_read_as_kenyan_time_unless_daraja_pull_times_says_utc() -> None:
    from tuma.models.daraja import PullTimes
    from tuma.models.pull import read_row

    pulled = read_row(row("QK1", trxDate="2026-12-01T10:13:00Z"))
    assert pulled.paid_at(PullTimes.KENYA) == datetime(2026, 12, 1, 7, 13, tzinfo=UTC)  # 10:13 in Nairobi
    assert pulled.paid_at(PullTimes.UTC) == datetime(2026, 12, 1, 10, 13, tzinfo=UTC)
    explicit = read_row(row("QK1", trxDate="2025-01-24T10:56:11+03:00"))
    assert explicit.paid_at(PullTimes.UTC) == explicit.paid_at(PullTimes.KENYA)  # an offset is as written


def test_an_over_limit_payment_is_refused_once_and_never_counted_recovered_again() -> None:
    from decimal import Decimal

    rig = Rig([row("QK1", amount="2000000"), row("QK2")])
    rig.build(intake=Intake(rig.outbox, rig.ledger, max_amount=Decimal(1_000_000)))
    [run] = rig.reconciler.run().runs
    assert run.recovered == 2 and [m.idempotency_key for m in rig.outbox.messages] == ["QK2"]
    [entry] = rig.ledger.get("QK1")
    assert entry.status is Status.REJECTED and "over the limit" in (entry.reason or "")
    rig.now += timedelta(minutes=15)
    [again] = rig.reconciler.run().runs
    assert (again.recovered, again.seen) == (0, 0)
    assert rig.metrics.counts["PaymentsRecoveredByPull"] == 2


def test_one_short_codes_trouble_never_stops_the_others() -> None:
    class Flaky(MemoryLedger):
        def payment_states(self, references: Sequence[str]) -> dict[str, Any]:
            if any(r.startswith("BAD") for r in references):
                raise ConnectionError("DynamoDB throttled")
            return super().payment_states(references)

    class ByCode(ScriptedDaraja):
        def pull(self, short_code: str, start: datetime, end: datetime, offset: int) -> list[dict[str, Any]]:
            self.calls.append((short_code, start, end, offset))
            rows = [row("BAD1")] if short_code == "111111" else [row("QK1")]
            return rows[offset:]

    rig = Rig([])
    ledger = Flaky()
    reconciler = PullReconciler(
        ByCode([]),
        rig.state,
        Intake(rig.outbox, ledger),
        ledger,
        rig.metrics,
        short_codes=lambda: ("111111", "600000"),
        overlap=timedelta(minutes=120),
        now=lambda: NOW,
    )
    report = reconciler.run()
    assert [(r.short_code, bool(r.failure)) for r in report.runs] == [("111111", True), ("600000", False)]
    assert [m.idempotency_key for m in rig.outbox.messages] == ["QK1"]
    assert "throttled" in (report.runs[0].failure or "")
