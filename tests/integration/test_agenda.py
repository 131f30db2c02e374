"""The agenda in DynamoDB (moto): a held message is released once, may be held again after its
release (a promotion whose window closed), and a cancelled one never comes back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tuma.adapters.dynamodb_agenda import DynamoDBAgenda
from tuma.adapters.dynamodb_ledger import DynamoDBLedger
from tuma.models.ledger import CancelOutcome, LedgerEntry, ScheduledMessage, Status

from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration
DUE = datetime(2026, 11, 26, 16, 59, 30, tzinfo=UTC)


def _agenda(stack: Stack) -> tuple[DynamoDBAgenda, DynamoDBLedger]:
    client, table = stack.client("dynamodb"), stack.topology.ref("LedgerTable")
    return DynamoDBAgenda(client, table), DynamoDBLedger(client, table)


def test_held_released_once_held_again_for_the_next_opening_and_released_again(stack: Stack) -> None:
    agenda, ledger = _agenda(stack)
    message = ScheduledMessage("promo-late", DUE, '{"idempotency_key":"promo-late"}')
    entry = LedgerEntry("promo-late", "n:1", "2547*****678", Status.SCHEDULED, updated_at=DUE)
    assert agenda.schedule(message, [entry]) is True
    assert agenda.schedule(message, [entry]) is False  # redelivered while it waits: nothing changes
    assert agenda.due_messages(DUE - timedelta(seconds=1), 10) == []
    [due] = agenda.due_messages(DUE, 10)
    assert agenda.release(due) is True and agenda.release(due) is False  # once
    assert agenda.due_messages(DUE + timedelta(hours=1), 10) == []

    tomorrow = ScheduledMessage("promo-late", DUE + timedelta(hours=12), message.body)
    assert agenda.schedule(tomorrow, [entry]) is True  # the window closed before the sender got to it
    assert agenda.due_messages(DUE + timedelta(hours=11), 10) == []
    [again] = agenda.due_messages(tomorrow.due_at, 10)
    assert again == tomorrow and agenda.release(again) is True
    assert [e.status for e in ledger.get("promo-late")] == [Status.SCHEDULED]


def test_a_cancelled_message_is_never_held_or_released_again(stack: Stack) -> None:
    agenda, ledger = _agenda(stack)
    message = ScheduledMessage("fees-friday", DUE, "{}")
    entry = LedgerEntry("fees-friday", "n:2", "2547*****222", Status.SCHEDULED, updated_at=DUE)
    assert agenda.schedule(message, [entry]) is True
    assert agenda.cancel("fees-friday") is CancelOutcome.CANCELLED
    assert agenda.cancel("fees-friday") is CancelOutcome.CANCELLED  # said again: never "already sent"
    assert agenda.cancel("never-held") is CancelOutcome.NOT_SCHEDULED
    assert agenda.schedule(message, [entry]) is False
    assert agenda.due_messages(DUE + timedelta(days=1), 10) == []
    [cancelled] = ledger.get("fees-friday")
    assert cancelled.status is Status.CANCELLED and cancelled.final_via == "cancel"
