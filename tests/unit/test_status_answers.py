"""M-Pesa's Transaction Status answers at intake, and the finance view of a day's payments."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tuma.models.daraja import STATUS_QUERY_PATIENCE, Registration
from tuma.models.ledger import LedgerEntry, PaymentSeen, Status
from tuma.models.mpesa import StatusResult, StatusResultCallback
from tuma.models.pull import PulledTransaction
from tuma.models.sources import PaymentSource
from tuma.ports import DarajaSetup
from tuma.services.finance import NEVER_SEEN, NO_RECEIPT_YET, day_view
from tuma.services.intake import Fate, Intake
from tuma.services.status_queries import StatusQueries

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
            "OriginatorConversationID": f"orig-{receipt}",
            "ConversationID": f"conv-{receipt}",
            "ResultParameters": {"ResultParameter": parameters},
            "ReferenceData": {"ReferenceItem": {"Key": "Occasion", "Value": receipt.lower()}},
        }
    }


NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class Asking(DarajaSetup):
    """`tuma.ports.DarajaSetup`'s Transaction Status: accepted, with the ids `answer` carries."""

    def register_urls(
        self, short_code: str, version: str, response_type: str, confirmation_url: str, validation_url: str
    ) -> Registration:
        raise NotImplementedError

    def register_pull(self, short_code: str, nominated_number: str, callback_url: str) -> Registration:
        raise NotImplementedError

    def ask_status(self, receipt: str, short_code: str, result_url: str) -> Registration:
        return Registration("accepted", "ok", "0", None, f"orig-{receipt}", f"conv-{receipt}")


def _intake(*asked: str) -> tuple[Intake, MemoryOutbox, MemoryLedger]:
    """The intake, after Tuma asked about the `asked` receipts."""
    outbox, ledger = MemoryOutbox(), MemoryLedger()
    queries = StatusQueries(Asking(), ledger, clock=lambda: NOW)
    for receipt in asked:
        queries.ask(receipt, "600000", "https://example.com/payments/status-results/t")
    return Intake(outbox, ledger), outbox, ledger


def _result(body: dict[str, Any]) -> StatusResult:
    return StatusResultCallback.model_validate(body).Result


def test_an_answer_to_no_request_tuma_made_changes_nothing_however_genuine_it_looks() -> None:
    intake, outbox, ledger = _intake()
    assert intake.status_result(_result(answer()), NOW).fate is Fate.UNASKED
    assert outbox.messages == [] and ledger.status_answers == {} and ledger.payments == {}


def test_2001_is_said_as_the_initiator_refused_with_the_fix_never_as_no_payment() -> None:
    intake, outbox, ledger = _intake("MBN31H462N")
    refused = answer(code=2001)
    refused["Result"]["ResultDesc"] = "The initiator information is invalid."
    outcome = intake.status_result(_result(refused), NOW)
    assert outcome.fate is Fate.QUERY_REFUSED and outcome.fate.value == "StatusQueriesRefused"
    assert "tuma daraja credential" in (outcome.reason or "") and "no completed" not in (outcome.reason or "")
    assert "tuma daraja credential" in ledger.status_answers["MBN31H462N"]["description"]
    assert outbox.messages == []


def test_an_answer_is_taken_once_with_the_requests_ids_and_before_it_expires() -> None:
    intake, outbox, _ = _intake("MBN31H462N", "QKLATE0001", "QKOTHER001")
    forged = answer()
    forged["Result"]["ConversationID"] = "conv-guessed"
    assert intake.status_result(_result(forged), NOW).fate is Fate.UNASKED
    assert intake.status_result(_result(answer()), NOW).queued
    assert intake.status_result(_result(answer()), NOW).fate is Fate.UNASKED  # the same answer again
    late = NOW + STATUS_QUERY_PATIENCE
    assert intake.status_result(_result(answer("QKLATE0001")), late).fate is Fate.UNASKED
    # Another request's ids do not answer this one.
    crossed = answer("QKOTHER001")
    crossed["Result"]["OriginatorConversationID"] = "orig-MBN31H462N"
    assert intake.status_result(_result(crossed), NOW).fate is Fate.UNASKED
    assert [m.idempotency_key for m in outbox.messages] == ["MBN31H462N"]


def test_a_completed_payment_tuma_never_saw_gets_its_receipt_learnt_by_status_query() -> None:
    intake, outbox, ledger = _intake("MBN31H462N")
    outcome = intake.status_result(_result(answer()), NOW)
    assert outcome.queued
    [message] = outbox.messages
    assert message.idempotency_key == "MBN31H462N" and message.to == ("254708374149",)
    assert message.source == "status-query" and message.data["amount"] == "300"
    assert message.data["name"] == "John Doe" and message.data["short_code"] == "600000"
    assert ledger.status_answers["MBN31H462N"]["transaction_status"] == "Completed"


def test_an_answer_about_a_payment_that_has_its_receipt_changes_nothing() -> None:
    intake, outbox, ledger = _intake("MBN31H462N")
    ledger.note_payment(PaymentSeen("MBN31H462N", PaymentSource.C2B))
    outcome = intake.status_result(_result(answer()), NOW)
    assert outcome.fate is Fate.ALREADY_KNOWN and outbox.messages == []
    assert ledger.payments["MBN31H462N"]["sources"] == {"c2b"}


def test_answers_that_prove_no_customer_payment_send_nothing_and_are_kept() -> None:
    missing = {
        "Result": {
            "ResultCode": "R000002",
            "ResultDesc": "The transaction receipt number does not exist.",
            "OriginatorConversationID": "orig-QKNOPE",
            "ConversationID": "conv-QKNOPE",
            "ReferenceData": {"ReferenceItem": {"Key": "Occasion", "Value": "QKNOPE"}},
        }
    }
    for body in (
        missing,
        answer("QKFAIL0001", status="Failed"),
        answer("QKPAYOUT01", debit="600000 - Duka Ltd"),
    ):
        intake, outbox, ledger = _intake(_result(body).key())
        assert intake.status_result(_result(body), NOW).fate is Fate.NO_PAYMENT
        assert outbox.messages == [] and ledger.entries == {}
    assert ledger.status_answers["QKPAYOUT01"]["transaction_status"] == "Completed"
    intake, outbox, ledger = _intake("QKNOPE")
    intake.status_result(_result(missing), NOW)
    assert ledger.status_answers["QKNOPE"]["result_code"] == "R000002"
    empty = _result({})  # an answer with nothing in it: no request of Tuma's is waiting for it
    assert intake.status_result(empty, NOW).fate is Fate.UNASKED


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
