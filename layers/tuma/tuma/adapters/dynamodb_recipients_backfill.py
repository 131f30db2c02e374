"""Messages written before 0.3.0 have no `#recipients` records (`tuma.adapters.ledger_table`), so the
internet-facing function, which may not Query, would not find them. The reconciler notes their
recipients once: a day (East Africa) at a time through the by-day index, from the oldest day the
ledger keeps up to the day the walk began (what was written after that is noted by its writer), a few
pages a run, then never again. Noting is an ADD to a set: a ref noted twice, or by a writer at the
same time, is still one ref."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.adapters.ledger_table import DAY_INDEX, LedgerTable, is_own_record, key
from tuma.formatting.clock import EAT, now_utc
from tuma.ports import Migration

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CHECKPOINT = key("#recipients-backfill", "#checkpoint")


@translates_aws_errors
class RecipientsBackfill(Migration):
    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        ttl_days: int = 180,
        *,
        pages_per_run: int = 10,
        page_size: int = 100,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self._client = client
        self._name = table
        self._ledger = LedgerTable(client, table, ttl_days, clock)
        self._oldest = ttl_days
        self._pages = pages_per_run
        self._page_size = page_size
        self._clock = clock

    def run(self) -> int:
        """Note a few pages of old entries; how many entries were noted (0 once the walk is done)."""
        item = self._client.get_item(TableName=self._name, Key=CHECKPOINT, ConsistentRead=True).get("Item")
        if item is not None and "done_at" in item:
            return 0
        today = self._clock().astimezone(EAT).date()
        if item is None:
            day, until, start = today - timedelta(days=self._oldest), today, None
        else:
            day, until = date.fromisoformat(item["day"]["S"]), date.fromisoformat(item["until"]["S"])
            start = json.loads(item["start"]["S"]) if "start" in item else None
        noted = 0
        for _ in range(self._pages):
            if day > until:
                break
            count, start = self._note_page(day, start)
            noted += count
            if start is None:
                day += timedelta(days=1)
        self._save(day, until, start)
        return noted

    def _note_page(self, day: date, start: dict[str, Any] | None) -> tuple[int, dict[str, Any] | None]:
        request: dict[str, Any] = {
            "TableName": self._name,
            "IndexName": DAY_INDEX,
            "KeyConditionExpression": "#day = :day",
            "ProjectionExpression": "idempotency_key, recipient_ref",
            "ExpressionAttributeNames": {"#day": "day"},
            "ExpressionAttributeValues": {":day": {"S": day.isoformat()}},
            "Limit": self._page_size,
        }
        if start is not None:
            request["ExclusiveStartKey"] = start
        answer = self._client.query(**request)
        entries = [i for i in answer.get("Items", []) if not is_own_record(i)]
        self._ledger.note_refs((i["idempotency_key"]["S"], i["recipient_ref"]["S"]) for i in entries)
        return len(entries), answer.get("LastEvaluatedKey")

    def _save(self, day: date, until: date, start: dict[str, Any] | None) -> None:
        item = {
            **CHECKPOINT,
            "day": {"S": day.isoformat()},
            "until": {"S": until.isoformat()},
            "updated_at": {"S": self._clock().isoformat()},
        }
        if start is not None:
            item["start"] = {"S": json.dumps(start, sort_keys=True)}
        elif day > until:
            item["done_at"] = item["updated_at"]
        self._client.put_item(TableName=self._name, Item=item)
