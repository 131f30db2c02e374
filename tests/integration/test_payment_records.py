"""The payment records in DynamoDB (moto), as the in-memory ledger keeps them in the unit tests: a
receipt held for M-Pesa's word, the payments M-Pesa's record never listed, the Transaction Status
requests Tuma made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tuma.adapters.dynamodb_ledger import DynamoDBLedger
from tuma.models.daraja import StatusQuery
from tuma.models.ledger import Confirmation, HeldReceipt, LedgerEntry, PaymentSeen, Status
from tuma.models.sources import PaymentSource

from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration
PAID = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _ledger(stack: Stack) -> DynamoDBLedger:
    return DynamoDBLedger(stack.client("dynamodb"), stack.topology.ref("LedgerTable"))


def test_a_held_receipt_is_kept_read_back_and_released_once(stack: Stack) -> None:
    ledger = _ledger(stack)
    ledger.note_payment(PaymentSeen("QK1", PaymentSource.C2B, amount="50000", paid_at=PAID))
    entry = LedgerEntry("QK1", "n:1", "2547*****678", Status.AWAITING_CONFIRMATION, reason="held")
    ledger.hold_receipt(HeldReceipt("QK1", "50000", '{"idempotency_key": "QK1"}'), [entry])
    assert ledger.held_receipts(["QK1", "QK2"]) == {
        "QK1": HeldReceipt("QK1", "50000", '{"idempotency_key": "QK1"}')
    }
    assert [e.status for e in ledger.get("QK1")] == [Status.AWAITING_CONFIRMATION]
    assert ledger.release_held("QK1") is True and ledger.release_held("QK1") is False
    assert ledger.held_receipts(["QK1"]) == {}


def test_a_callbacks_payment_mpesa_never_listed_is_found_marked_once_and_confirmed_by_a_later_listing(
    stack: Stack,
) -> None:
    ledger = _ledger(stack)
    ledger.note_payment(PaymentSeen("QKC1", PaymentSource.C2B, paid_at=PAID))
    ledger.note_payment(PaymentSeen("QKC2", PaymentSource.STK, paid_at=PAID + timedelta(hours=1)))
    ledger.note_payment(PaymentSeen("QKP1", PaymentSource.PAYMENTS_API, paid_at=PAID))  # the business's own
    ledger.note_payment(PaymentSeen("QKL1", PaymentSource.C2B, paid_at=PAID))
    ledger.note_payment(PaymentSeen("QKL1", PaymentSource.PULL))  # listed by M-Pesa
    window = (PAID - timedelta(hours=1), PAID + timedelta(minutes=30))
    assert ledger.unconfirmed_payments(*window) == ["QKC1"]
    assert ledger.payment_confirmation("QKC1") is None
    assert ledger.mark_unconfirmed("QKC1", PAID) is True and ledger.mark_unconfirmed("QKC1", PAID) is False
    assert ledger.mark_unconfirmed("QKL1", PAID) is False  # confirmed meanwhile
    assert ledger.unconfirmed_payments(*window) == []
    assert ledger.payment_confirmation("QKC1") is Confirmation.UNCONFIRMED
    assert ledger.payment_confirmation("QKL1") is Confirmation.CONFIRMED
    ledger.note_payment(PaymentSeen("QKC1", PaymentSource.PULL))  # M-Pesa lists it late after all
    assert ledger.payment_confirmation("QKC1") is Confirmation.CONFIRMED
    # A day boundary (East Africa Time) in the window: both days are read.
    late = PAID.replace(hour=20, minute=30)  # 23:30 EAT
    ledger.note_payment(PaymentSeen("QKN1", PaymentSource.C2B, paid_at=late))
    assert ledger.unconfirmed_payments(late - timedelta(minutes=1), late + timedelta(hours=2)) == ["QKN1"]


def test_a_status_answer_is_taken_once_with_the_requests_ids_and_in_time(stack: Stack) -> None:
    ledger = _ledger(stack)
    ledger.record_status_query(StatusQuery("QKS1", "orig-1", "conv-1", PAID, PAID + timedelta(hours=1)))
    assert ledger.answer_status_query("QKS1", "orig-1", "conv-2", PAID) is False  # other ids
    assert ledger.answer_status_query("QKS9", "orig-1", "conv-1", PAID) is False  # never asked
    assert ledger.answer_status_query("QKS1", "orig-1", "conv-1", PAID + timedelta(hours=2)) is False
    assert ledger.answer_status_query("QKS1", "orig-1", "conv-1", PAID + timedelta(minutes=1)) is True
    assert ledger.answer_status_query("QKS1", "orig-1", "conv-1", PAID + timedelta(minutes=2)) is False
