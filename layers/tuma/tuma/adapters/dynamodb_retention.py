"""The retention sweep's reads and writes on the ledger table (`tuma.ports.RetentionStore`): a day's
records through the by-day index, and the checkpoint beside them (`#retention`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.adapters.ledger_table import DAY_INDEX
from tuma.ports import RetentionStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CHECKPOINT = {"idempotency_key": {"S": "#retention"}, "recipient_ref": {"S": "#checkpoint"}}
# What leaves: the words sent (names, amounts, accounts, codes) and a payer's full number and account.
PERSONAL = ("text", "payer", "account")


@translates_aws_errors
class DynamoDBRetention(RetentionStore):
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def checkpoint(self) -> tuple[str, dict[str, Any] | None] | None:
        item = self._client.get_item(TableName=self._table, Key=CHECKPOINT, ConsistentRead=True).get("Item")
        if not item:
            return None
        start = item.get("start", {}).get("S")
        return item["day"]["S"], json.loads(start) if start else None

    def save_checkpoint(self, day: str, start: dict[str, Any] | None) -> None:
        item = {**CHECKPOINT, "day": {"S": day}, "updated_at": {"S": datetime.now(UTC).isoformat()}}
        if start is not None:
            item["start"] = {"S": json.dumps(start, sort_keys=True)}
        self._client.put_item(TableName=self._table, Item=item)

    def redact(self, day: str, start: dict[str, Any] | None, limit: int) -> tuple[int, dict[str, Any] | None]:
        names = {f"#p{i}": name for i, name in enumerate(PERSONAL)}
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DAY_INDEX,
            "KeyConditionExpression": "#day = :day",
            "FilterExpression": " OR ".join(f"attribute_exists({n})" for n in names),
            "ProjectionExpression": "idempotency_key, recipient_ref",
            "ExpressionAttributeNames": {"#day": "day", **names},
            "ExpressionAttributeValues": {":day": {"S": day}},
            "Limit": limit,
        }
        if start is not None:
            request["ExclusiveStartKey"] = start
        answer = self._client.query(**request)
        now = datetime.now(UTC).isoformat()
        items = answer.get("Items", [])
        for item in items:
            self._client.update_item(
                TableName=self._table,
                Key={"idempotency_key": item["idempotency_key"], "recipient_ref": item["recipient_ref"]},
                UpdateExpression="REMOVE " + ", ".join(names) + " SET redacted_at = :now",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":now": {"S": now}},
            )
        return len(items), answer.get("LastEvaluatedKey")
