"""Small named state items in DynamoDB: the balance monitor's "is it low?" (flipped conditionally)
and named documents (`tuma.ports.StateStore`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from tuma.adapters.dynamodb import is_conditional_failure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDBLowState:
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


class DynamoDBStateStore:
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


def _json(value: dict[str, Any]) -> str:
    """One spelling per document, so that `swap` can compare what it read with what is stored."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
