"""Large payments wait for M-Pesa's own word (tuma.services.confirmation; ConfirmPaymentsFrom)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tuma.models.ledger import Status
from tuma.models.payments import Payment
from tuma.models.sources import PaymentSource
from tuma.services.confirmation import Confirmations
from tuma.services.intake import Fate, Intake
from tuma.services.pull import PullReconciler

from tests.unit.fakes import ListMetrics, MemoryLedger, MemoryOutbox, MemoryStateStore
from tests.unit.test_pull import NOW, ScriptedDaraja, row


def _intake() -> tuple[Intake, MemoryOutbox, MemoryLedger]:
    outbox, ledger = MemoryOutbox(), MemoryLedger()
    confirmations = Confirmations(outbox, ledger, threshold=Decimal(10_000))
    return Intake(outbox, ledger, confirmations=confirmations), outbox, ledger


def _payment(reference: str, amount: str, source: str = "c2b") -> Payment:
    fields: dict[str, Any] = {
        "reference": reference,
        "amount": amount,
        "phone": "0712345678",
        "source": source,
    }
    return Payment.model_validate(fields | {"paid_at": NOW + timedelta(minutes=1)})


def _pull(intake: Intake, ledger: MemoryLedger, rows: list[dict[str, Any]]) -> PullReconciler:
    return PullReconciler(
        ScriptedDaraja(rows),
        MemoryStateStore(),
        intake,
        ledger,
        ListMetrics(),
        short_codes=lambda: ("600000",),
        overlap=timedelta(hours=2),
        now=lambda: NOW + timedelta(minutes=15),
    )


def test_a_large_callback_payment_waits_visibly_and_goes_when_mpesas_record_lists_the_same_amount() -> None:
    intake, outbox, ledger = _intake()
    held = intake.receipt(_payment("QK1", "50000"))
    assert held.fate is Fate.HELD and outbox.messages == []
    [entry] = ledger.get("QK1")
    assert entry.status is Status.AWAITING_CONFIRMATION  # its own status, never a silent drop
    assert entry.reason == (
        "held until M-Pesa's own record confirms it: payments of KES 10,000.00 or more wait (ConfirmPaymentsFrom)"
    )
    assert intake.receipt(_payment("QK2", "9999.99")).queued  # below the threshold: at once
    assert intake.receipt(_payment("QK3", "50000", source="payments-api")).queued  # the business's own
    _pull(intake, ledger, [row("QK1", amount="50000.00")]).run()
    assert [m.idempotency_key for m in outbox.messages] == ["QK2", "QK3", "QK1"]
    assert ledger.held_receipts(["QK1"]) == {}  # released once
    _pull(intake, ledger, [row("QK1", amount="50000.00")]).run()
    assert [m.idempotency_key for m in outbox.messages].count("QK1") == 1


def test_mpesa_saying_another_amount_ends_the_receipt_rejected_with_both_figures() -> None:
    intake, outbox, ledger = _intake()
    intake.receipt(_payment("QK1", "50000"))
    _pull(intake, ledger, [row("QK1", amount="500.00")]).run()
    assert outbox.messages == []
    [entry] = ledger.get("QK1")
    assert entry.status is Status.REJECTED
    assert (
        entry.reason
        == "M-Pesa's own record says KES 500.00, not the KES 50,000.00 the callback said: nothing sent"
    )


def test_a_transaction_status_answer_tuma_asked_for_releases_it_too() -> None:
    from tuma.services.status_queries import StatusQueries

    from tests.unit.test_status_answers import Asking, _result, answer

    intake, outbox, ledger = _intake()
    intake.receipt(_payment("MBN31H462N", "300"))  # below: goes
    outbox.messages.clear()
    confirmations = Confirmations(outbox, ledger, threshold=Decimal(100))
    strict = Intake(outbox, ledger, confirmations=confirmations)
    strict.receipt(_payment("MBN31H462N", "300"))  # a callback again, now above the threshold
    StatusQueries(Asking(), ledger, clock=lambda: datetime.now(UTC)).ask("MBN31H462N", "600000", "u")
    outcome = strict.status_result(_result(answer()), datetime.now(UTC))
    assert outcome.fate is Fate.CONFIRMED
    assert [m.idempotency_key for m in outbox.messages] == ["MBN31H462N"]
    assert PaymentSource.C2B in ledger.payments["MBN31H462N"]["sources"]
