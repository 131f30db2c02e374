"""M-Pesa's Transaction Status answers at intake, and the finance view of a day's payments."""

from __future__ import annotations

from typing import Any

from tuma.models.ledger import LedgerEntry, PaymentSeen, Status
from tuma.models.mpesa import StatusResultCallback
from tuma.models.pull import PulledTransaction
from tuma.models.sources import PaymentSource
from tuma.services.finance import NEVER_SEEN, NO_RECEIPT_YET, day_view
from tuma.services.intake import Fate, Intake

from tests.unit.fakes import MemoryLedger, MemoryOutbox


def answer(
    receipt: str = "MBN31H462N",
    status: str = "Completed",
    code: Any = 0,
    debit: str = "254708374149 - John Doe",
) -> dict[str, Any]:
    parameters = [
        {"Key": "DebitPartyName", "Value": debit},
        {"Key": "CreditPartyName", "Value": "600000 - Duka Ltd"},
        {"Key": "TransactionStatus", "Value": status},
        {"Key": "Amount", "Value": "300"},
        {"Key": "ReceiptNo", "Value": receipt},
        {"Key": "FinalisedTime", "Value": "20261201091500"},
        {"Key": "TransactionReason"},  # Daraja sends keys without values
    ]
    return {
        "Result": {
            "ResultType": 0,
            "ResultCode": code,
            "ResultDesc": "The service request is processed successfully.",
            "ResultParameters": {"ResultParameter": parameters},
            "ReferenceData": {"ReferenceItem": {"Key": "Occasion", "Value": receipt.lower()}},
        }
    }


def _intake() -> tuple[Intake, MemoryOutbox, MemoryLedger]:
    outbox, ledger = MemoryOutbox(), MemoryLedger()
    return Intake(outbox, ledger), outbox, ledger


def test_a_completed_payment_tuma_never_saw_gets_its_receipt_learnt_by_status_query() -> None:
    intake, outbox, ledger = _intake()
    outcome = intake.status_result(StatusResultCallback.model_validate(answer()).Result)
    assert outcome.queued
    [message] = outbox.messages
    assert message.idempotency_key == "MBN31H462N" and message.to == ("254708374149",)
    assert message.source == "status-query" and message.data["amount"] == "300"
    assert message.data["name"] == "John Doe" and message.data["short_code"] == "600000"
    assert ledger.status_answers["MBN31H462N"]["transaction_status"] == "Completed"


def test_an_answer_about_a_payment_that_has_its_receipt_changes_nothing() -> None:
    intake, outbox, ledger = _intake()
    ledger.note_payment(PaymentSeen("MBN31H462N", PaymentSource.C2B))
    outcome = intake.status_result(StatusResultCallback.model_validate(answer()).Result)
    assert outcome.fate is Fate.ALREADY_KNOWN and outbox.messages == []
    assert ledger.payments["MBN31H462N"]["sources"] == {"c2b"}


def test_answers_that_prove_no_customer_payment_send_nothing_and_are_kept() -> None:
    intake, outbox, ledger = _intake()
    missing = {
        "Result": {
            "ResultCode": "R000002",
            "ResultDesc": "The transaction receipt number does not exist.",
            "ReferenceData": {"ReferenceItem": {"Key": "Occasion", "Value": "QKNOPE"}},
        }
    }
    for body in (missing, answer(status="Failed"), answer(debit="600000 - Duka Ltd")):
        outcome = intake.status_result(StatusResultCallback.model_validate(body).Result)
        assert outcome.fate is Fate.NO_PAYMENT
    assert outbox.messages == [] and ledger.entries == {}
    assert ledger.status_answers["QKNOPE"]["result_code"] == "R000002"
    empty = StatusResultCallback.model_validate({}).Result  # an answer with nothing in it
    assert intake.status_result(empty).fate is Fate.NO_PAYMENT


def test_the_days_view_lists_every_payment_with_how_it_was_learnt_and_what_mpesa_has() -> None:
    records = [
        {
            "idempotency_key": "QK1",
            "amount": "150.00",
            "short_code": "600000",
            "account": "A-1",
            "first_source": "c2b",
            "sources": {"c2b", "pull"},
            "paid_at": "2026-12-01T09:00:00+03:00",
        },
        {
            "idempotency_key": "QK2",
            "amount": "200.50",
            "short_code": "600000",
            "first_source": "pull",
            "sources": {"pull"},
            "paid_at": "2026-12-01T10:00:00+03:00",
        },
        {
            "idempotency_key": "INV-9",
            "amount": "99",
            "first_source": "payments-api",
            "sources": {"payments-api"},
        },
    ]
    delivered = LedgerEntry("QK1", "r1", "2547*****678", Status.DELIVERED, source="c2b")
    pulled = {
        "600000": [
            PulledTransaction.of(
                {"transactionId": t, "amount": "10", "transactiontype": "c2b-pay-bill-debit"}
            )
            for t in ("QK1", "QK2", "QK3")
        ]
    }
    view = day_view("2026-12-01", records, {"QK1": [delivered]}, pulled)
    rows = {row.receipt: row for row in view.rows}
    assert (rows["QK1"].learnt_by, rows["QK1"].receipt_status, rows["QK1"].in_mpesa) == (
        "callback",
        "DELIVERED",
        True,
    )
    assert (rows["QK2"].learnt_by, rows["QK2"].receipt_status) == ("pull", NO_RECEIPT_YET)
    assert (rows["INV-9"].learnt_by, rows["INV-9"].in_mpesa) == ("your system", False)
    assert (rows["QK3"].learnt_by, rows["QK3"].receipt_status) == (NEVER_SEEN, NEVER_SEEN)
    totals = view.as_dict()["totals"]
    assert totals["by_learnt"] == {"callback": 1, NEVER_SEEN: 1, "pull": 1, "your system": 1}
    assert totals["payments"] == 4 and totals["amount"] == "459.50"
    unread = day_view("2026-12-01", records, {}, None, "M-Pesa's list not read: no Daraja")
    assert not unread.mpesa_read and {r.in_mpesa for r in unread.rows} == {None}
