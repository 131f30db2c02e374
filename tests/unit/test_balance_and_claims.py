"""The balance monitor and the send claims against in-memory ports."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import boto3
import pytest
from tuma.adapters.dynamodb_claims import DynamoDBClaims
from tuma.models.ledger import Status
from tuma.models.sending import Claim, Claimed, ClaimState, Settlement
from tuma.services.balance import STATE, BalanceMonitor

from tests.unit.fakes import FixedBalance, MemoryLowState, MemoryOutbox

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

NOON = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _monitor(credit: str) -> tuple[BalanceMonitor, FixedBalance, MemoryLowState, MemoryOutbox]:
    provider, state, outbox = FixedBalance(credit), MemoryLowState(), MemoryOutbox()
    return BalanceMonitor(provider, state, outbox, Decimal(500), "en"), provider, state, outbox


def test_one_alert_per_fall_below_the_threshold() -> None:
    monitor, provider, state, outbox = _monitor("1,200.00")
    assert not monitor.check(NOON).alerted
    provider.credit = "499.50"
    first = monitor.check(NOON)
    assert first.low and first.alerted and first.credit == Decimal("499.50")
    assert not monitor.check(NOON).alerted  # still low: no second SMS
    [alert] = outbox.messages
    assert alert.template == "low_credit" and alert.to == ()  # goes to ALERT_RECIPIENTS
    assert alert.data == {"credit": "499.50", "threshold": "500.00"}
    provider.credit = "800"
    assert not monitor.check(NOON).alerted and state.low[STATE] is False  # recovery is silent
    provider.credit = "10"
    assert monitor.check(NOON).alerted and len(outbox.messages) == 2  # the next fall alerts again


def test_an_alert_that_could_not_be_queued_is_tried_again_on_the_next_run() -> None:
    monitor, _, _, outbox = _monitor("10")
    outbox.down = True
    with pytest.raises(ConnectionError):
        monitor.check(NOON)
    outbox.down = False
    assert monitor.check(NOON).alerted and len(outbox.messages) == 1


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDBClient]:
    """The idempotency table's shape in moto's in-process DynamoDB (no server, no network)."""
    from moto import mock_aws

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unit")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unit")
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName="claims",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def states(claims: DynamoDBClaims, batch: list[Claim], remaining_ms: int) -> list[ClaimState]:
    return [c.state for c in claims.claim(batch, remaining_ms)]


def _claims(client: DynamoDBClient, clock: Callable[[], float] = lambda: 1_000_000.0) -> DynamoDBClaims:
    return DynamoDBClaims(client, "claims", expires_after_seconds=3600, clock=clock)


def test_a_claim_is_new_once_then_busy_while_sending_and_done_once_settled(table: DynamoDBClient) -> None:
    claims = _claims(table)
    one, other = ("pay-1", "n:abc"), ("pay-1", "n:other")
    assert states(claims, [one], 30_000) == [ClaimState.NEW]
    assert states(claims, [one, other], 30_000) == [ClaimState.BUSY, ClaimState.NEW]  # another recipient
    sent = Settlement(Status.SENT, datetime(2026, 11, 26, 9, tzinfo=UTC), "1", "secondary")
    claims.settle([(one, sent)])
    assert states(claims, [one], 30_000) == [ClaimState.DONE]
    # What the first attempt settled comes back with DONE: a ledger it left QUEUED can be completed.
    assert claims.claim([one], 30_000)[0].result == sent


def test_a_settlement_reads_back_and_what_is_not_one_reads_as_none() -> None:
    at = datetime(2026, 11, 26, 9, tzinfo=UTC)
    for settled in (
        Settlement(Status.SENT, at, "42", "primary"),
        Settlement(Status.REJECTED, None, code=1003),
    ):
        assert Settlement.read(json.loads(json.dumps(settled.data()))) == settled
    assert Settlement.read({"status": "SENT", "at": "not a time"}) == Settlement(Status.SENT)
    assert Settlement.read({"something": "else"}) is None


def test_a_batch_of_claims_is_answered_in_order_and_settled_in_one_round(table: DynamoDBClient) -> None:
    claims = _claims(table)
    batch = [("pay", f"n:{i}") for i in range(60)]
    assert states(claims, batch[::2], 30_000) == [ClaimState.NEW] * 30
    assert states(claims, batch, 30_000) == [ClaimState.BUSY, ClaimState.NEW] * 30
    claims.settle([(c, Settlement(Status.SENT)) for c in batch[:30]])
    claims.release(batch[30:])
    assert states(claims, batch, 30_000) == [ClaimState.DONE] * 30 + [ClaimState.NEW] * 30


def test_a_claim_abandoned_by_a_dead_sender_frees_itself_when_its_invocation_would_have_ended(
    table: DynamoDBClient,
) -> None:
    now = [1_000_000.0]
    claims = _claims(table, clock=lambda: now[0])
    claim = ("pay-3", "n:abc")
    assert states(claims, [claim], 5_000) == [ClaimState.NEW]
    now[0] += 4
    assert states(claims, [claim], 5_000) == [ClaimState.BUSY]  # its sender may still be at it
    now[0] += 2
    assert states(claims, [claim], 5_000) == [ClaimState.NEW]  # past the dead invocation's deadline
    now[0] += 7200
    claims.settle([(claim, Settlement(Status.REJECTED, code=1003))])
    assert states(claims, [claim], 5_000) == [ClaimState.DONE]
    now[0] += 7200  # past the claim's expiry (an hour here): the key may be used again
    assert states(claims, [claim], 5_000) == [ClaimState.NEW]


def test_looking_at_claims_tells_what_taking_them_would_and_takes_none(table: DynamoDBClient) -> None:
    """What the sender asks of claims made before 0.3.0 (tuma.services.send_path.claiming), in one
    batched read: free, busy, done with its settlement; more than a BatchGetItem takes at once."""
    now = [1_000_000.0]
    claims = _claims(table, clock=lambda: now[0])
    busy, done, released, abandoned = ("k", "n:busy"), ("k", "n:done"), ("k", "n:released"), ("k", "n:gone")
    sent = Settlement(Status.SENT, datetime(2026, 11, 26, 9, tzinfo=UTC), "7", "primary")
    assert states(claims, [busy, done, released], 60_000) == [ClaimState.NEW] * 3
    assert states(claims, [abandoned], 1_000) == [ClaimState.NEW]
    claims.settle([(done, sent)])
    claims.release([released])
    now[0] += 5  # the abandoned claim's invocation would have ended
    never = [("k", f"n:never-{i}") for i in range(120)]
    looked = claims.look([busy, done, released, abandoned, *never])
    assert [c.state for c in looked[:4]] == [ClaimState.BUSY, ClaimState.DONE, ClaimState.NEW, ClaimState.NEW]
    assert looked[1].result == sent and {c.state for c in looked[4:]} == {ClaimState.NEW}
    assert states(claims, never[:2], 60_000) == [ClaimState.NEW] * 2  # looking took nothing
    pinned = ("k", "n:pinned")
    assert states(claims, [pinned], 60_000) == [ClaimState.NEW]
    claims.release([pinned], {pinned: "secondary"})
    assert claims.look([pinned])[0] == Claimed(ClaimState.NEW, pinned="secondary")
