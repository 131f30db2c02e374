"""Small named state items in DynamoDB: the balance monitor's "is it low?" (flipped conditionally)
and named documents (`tuma.ports.StateStore`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.adapters.dynamodb import batch_get, batch_write, is_conditional_failure
from tuma.ports import GuardStore, LowState, ReplayGuard, StateStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@translates_aws_errors
class DynamoDBLowState(LowState):
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def flip(self, name: str, low: bool, at: str) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"name": {"S": name}},
                UpdateExpression="SET low = :low, changed_at = :at",
                ConditionExpression="attribute_not_exists(low) OR low <> :low",
                ExpressionAttributeValues={":low": {"BOOL": low}, ":at": {"S": at}},
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True


@translates_aws_errors
class DynamoDBStateStore(StateStore):
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def read(self, name: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key={"name": {"S": name}}).get("Item")
        if not item or "document" not in item:
            return None
        value = json.loads(item["document"]["S"])
        return value if isinstance(value, dict) else None

    def write(self, name: str, value: dict[str, Any]) -> None:
        self._client.put_item(
            TableName=self._table, Item={"name": {"S": name}, "document": {"S": _json(value)}}
        )

    def swap(self, name: str, expected: dict[str, Any] | None, value: dict[str, Any]) -> bool:
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(document)"}
            if expected is None
            else {
                "ConditionExpression": "document = :expected",
                "ExpressionAttributeValues": {":expected": {"S": _json(expected)}},
            }
        )
        try:
            self._client.put_item(
                TableName=self._table,
                Item={"name": {"S": name}, "document": {"S": _json(value)}},
                **condition,
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True


@translates_aws_errors
class DynamoDBReplayGuard(ReplayGuard):
    """One conditional PutItem per signed request: the item exists only if the nonce was used; the
    table's TTL removes it once a signature carrying it would be stale anyway."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def first_use(self, name: str, keep_until: int) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={"name": {"S": f"replay#{name}"}, "expires_at": {"N": str(keep_until)}},
                ConditionExpression="attribute_not_exists(#name)",
                ExpressionAttributeNames={"#name": "name"},
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True


def _json(value: dict[str, Any]) -> str:
    """One spelling per document, so that `swap` can compare what it read with what is stored."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@translates_aws_errors
class DynamoDBGuardStore(DynamoDBStateStore, GuardStore):
    """The guards' documents and counters: counters are numbers (`count`), documents JSON, both
    keyed by `name`; one BatchGetItem reads everything a batch needs."""

    def read_many(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        keys = [{"name": {"S": n}} for n in sorted(set(names))]
        for item in batch_get(self._client, self._table, keys, what="guard counters"):
            name = item["name"]["S"]
            if "document" in item:
                value = json.loads(item["document"]["S"])
                found[name] = value if isinstance(value, dict) else {}
            else:
                found[name] = {"count": int(item.get("count", {}).get("N", "0"))}
        return found

    def add(self, counters: Mapping[str, int], expires_at: int) -> None:
        def one(item: tuple[str, int]) -> None:
            self._client.update_item(
                TableName=self._table,
                Key={"name": {"S": item[0]}},
                UpdateExpression="ADD #count :n SET expires_at = :e",
                ExpressionAttributeNames={"#count": "count"},
                ExpressionAttributeValues={":n": {"N": str(item[1])}, ":e": {"N": str(expires_at)}},
            )

        items = [(name, n) for name, n in counters.items() if n]
        if len(items) <= 1:
            for item in items:
                one(item)
            return
        with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
            list(pool.map(one, items))

    def put_counts(self, counts: Mapping[str, int], expires_at: int) -> None:
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        "name": {"S": name},
                        "count": {"N": str(n)},
                        "expires_at": {"N": str(expires_at)},
                    }
                }
            }
            for name, n in counts.items()
        ]
        batch_write(self._client, self._table, requests, what="guard counts")
