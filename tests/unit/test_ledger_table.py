"""The ledger table's layout and the DynamoDB batch helpers every adapter shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tuma.adapters.dynamodb import batch_get, batch_write, conditionally
from tuma.adapters.ledger_table import (
    DUE_CHECKS,
    LedgerTable,
    check_of,
    check_sk,
    due_at_of,
    due_by,
    due_sk,
    entry_of,
)
from tuma.models.ledger import DueCheck, LedgerEntry, Status

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


class Throttling:
    """BatchWriteItem and BatchGetItem that leave the first `refusals` calls' items unprocessed, as
    DynamoDB does when throttled."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.calls: list[int] = []
        self.stored: dict[str, dict[str, Any]] = {}

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:  # noqa: N803
        [(table, requests)] = RequestItems.items()
        self.calls.append(len(requests))
        if self.refusals > 0:
            self.refusals -= 1
            return {"UnprocessedItems": {table: requests}}
        for request in requests:
            item = request["PutRequest"]["Item"]
            self.stored[item["id"]["S"]] = item
        return {"UnprocessedItems": {}}

    def batch_get_item(self, RequestItems: dict[str, dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        [(table, request)] = RequestItems.items()
        self.calls.append(len(request["Keys"]))
        if self.refusals > 0:
            self.refusals -= 1
            return {"Responses": {table: []}, "UnprocessedKeys": RequestItems}
        found = [self.stored[k["id"]["S"]] for k in request["Keys"] if k["id"]["S"] in self.stored]
        return {"Responses": {table: found}, "UnprocessedKeys": {}}


def _puts(n: int) -> list[dict[str, Any]]:
    return [{"PutRequest": {"Item": {"id": {"S": f"i{i}"}}}} for i in range(n)]


def test_writes_go_25_a_call_and_what_is_left_unprocessed_is_tried_again_with_backoff() -> None:
    client, pauses = Throttling(refusals=2), list[float]()
    batch_write(client, "t", _puts(60), what="test", concurrency=1, pause=pauses.append)  # type: ignore[arg-type]
    assert client.calls == [25, 25, 25, 25, 10] and len(client.stored) == 60
    assert pauses == [0.05, 0.1]


def test_writes_still_unprocessed_after_the_retries_are_an_error_never_a_silent_loss() -> None:
    client = Throttling(refusals=100)
    with pytest.raises(ConnectionError, match="ledger write: 3 writes still unprocessed"):
        batch_write(client, "t", _puts(3), what="ledger write", pause=lambda _: None)  # type: ignore[arg-type]
    assert len(client.calls) == 8


def test_reads_go_100_keys_a_call_and_an_unread_key_is_an_error_not_an_absent_item() -> None:
    client = Throttling(refusals=1)
    batch_write(client, "t", _puts(150), what="setup", pause=lambda _: None)  # type: ignore[arg-type]
    client.calls.clear()
    keys = [{"id": {"S": f"i{i}"}} for i in range(120)] + [{"id": {"S": "absent"}}]
    found = batch_get(client, "t", keys, what="test", pause=lambda _: None)  # type: ignore[arg-type]
    assert len(found) == 120 and client.calls == [100, 21]
    client.refusals = 100
    with pytest.raises(ConnectionError, match="privacy table: some items still unread"):
        batch_get(client, "t", keys[:1], what="privacy table", pause=lambda _: None)  # type: ignore[arg-type]


def test_a_condition_that_says_no_is_false_and_any_other_failure_is_raised() -> None:
    from botocore.exceptions import ClientError

    def refuse(code: str) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "PutItem")

    assert conditionally(lambda: None) is True
    assert conditionally(refuse, code="ConditionalCheckFailedException") is False
    with pytest.raises(ClientError):
        conditionally(refuse, code="ProvisionedThroughputExceededException")


def test_due_keys_sort_by_time_and_give_their_time_back() -> None:
    early, late = due_sk(NOW, "k", "r"), due_sk(NOW + timedelta(seconds=1), "a")
    assert early < late and due_at_of(early) == NOW and due_at_of(late) == NOW + timedelta(seconds=1)
    assert early <= due_by(NOW) < late  # what is due by a moment, whatever its name


def test_an_entry_and_a_check_read_back_as_written_and_the_entry_names_its_check() -> None:
    table = LedgerTable(None, "ledger", ttl_days=1, clock=lambda: NOW)  # type: ignore[arg-type]
    entry = LedgerEntry(
        "QKX1",
        "n:abc",
        "2547*****678",
        Status.SENT,
        template="receipt",
        parts=2,
        provider_message_id="m-1",
        provider_code=200,
        updated_at=NOW,
        sent_at=NOW,
        check_due_at=NOW + timedelta(minutes=2),
    )
    item = table.entry_item(entry)
    check = DueCheck("QKX1", "n:abc", "m-1", NOW, NOW + timedelta(minutes=2))
    assert item["check_sk"]["S"] == check_sk(check)
    assert item["expires_at"]["N"] == str(int(NOW.timestamp()) + 86400) and item["day"]["S"] == "2026-11-26"
    from dataclasses import replace

    assert entry_of(item) == replace(entry, check_due_at=None)  # the check is its own record
    stored = table.check_item(check)
    assert stored["idempotency_key"]["S"] == DUE_CHECKS and check_of(stored) == check
