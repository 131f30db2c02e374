"""The retention sweep on the ledger table (moto server): a day's texts and payers' numbers go,
what billing needs stays, and newer days are untouched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tuma.adapters.dynamodb_ledger_views import LedgerViews
from tuma.adapters.dynamodb_retention import DynamoDBRetention
from tuma.models.ledger import LedgerEntry, PaymentSeen, Status
from tuma.models.sources import PaymentSource
from tuma.services.retention import RetentionSweep

from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


def test_old_texts_and_payers_leave_the_ledger_and_billing_fields_stay(stack: Stack) -> None:
    client, table = stack.client("dynamodb"), stack.topology.ref("LedgerTable")
    ledger = LedgerViews(client, table)
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=100), now - timedelta(days=10)
    for key, at in (("QOLD000001", old), ("QNEW000001", recent)):
        ledger.write(
            [
                LedgerEntry(
                    key,
                    "n:0123456789abcdef01234567",
                    "2547*****678",
                    Status.DELIVERED,
                    text=f"{key} confirmed. KES 750.00 from Achieng for account ADM-7.",
                    parts=1,
                    provider_message_id=f"m-{key}",
                    updated_at=at,
                    sent_at=at,
                )
            ]
        )
        ledger.note_payment(
            PaymentSeen(
                key,
                PaymentSource.C2B,
                "254712345678",
                3,
                "2547*****678",
                "750.00",
                "KES",
                "ADM-7",
                "600100",
                at,
            )
        )
    sweep = RetentionSweep(DynamoDBRetention(client, table), 90, oldest_days=180)
    runs = [sweep.run() for _ in range(10)]
    assert sum(runs) == 2 and runs[-1] == 0

    [kept] = ledger.get("QOLD000001")
    assert (kept.status, kept.parts, kept.recipient, kept.provider_message_id, kept.text) == (
        Status.DELIVERED,
        1,
        "2547*****678",
        "m-QOLD000001",
        None,
    )
    payment = ledger.record("QOLD000001", "#payment")
    assert payment is not None and "payer" not in payment and "account" not in payment
    assert (payment["payer_masked"], payment["amount"], payment["paid_at"]) == (
        "2547*****678",
        "750.00",
        old.isoformat(),
    )
    assert ledger.get("QNEW000001")[0].text is not None
    newer = ledger.record("QNEW000001", "#payment")
    assert newer is not None and newer["payer"] == "254712345678"
