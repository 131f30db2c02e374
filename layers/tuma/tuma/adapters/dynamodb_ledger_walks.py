"""What an upgrade to 0.3.0 leaves to do on the entries an earlier version wrote, done by the
reconciler a few pages a run (`tuma.ports.Migration`): a walk through the by-day index, a day (East
Africa) at a time from the oldest day the ledger keeps up to the day the walk began, with a
checkpoint in the ledger's table so that a run cut short carries on where it was.

- `RecipientsBackfill`: notes each old entry's ref in its message's `#recipients` records, so that
  the internet-facing function, which may not Query, finds it (docs/design.md, *Found by key alone*).
- `LegacyRefsRekey`: moves each old entry named by an unkeyed digest (`n:`, `h:`, reversed from its
  mask in milliseconds) to its keyed ref (`k:`, `kh:`). Only entries that are final move: anything
  still in flight may be written by key (a report, a completion), so it waits, and the walk runs
  again a day later until nothing waits.

Both are idempotent: an ADD to a set, and a move conditioned on the entry being as it was read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.adapters.ledger_table import DAY_INDEX, LedgerTable, is_own_record, key
from tuma.formatting.clock import EAT, now_utc
from tuma.models.ledger import Status
from tuma.ports import Migration
from tuma.security.number_keys import KEYED_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from tuma.security.number_keys import NumberKeys

FINAL = frozenset(s.value for s in Status if s.rank >= 3)
AGAIN_AFTER = timedelta(days=1)


@translates_aws_errors
class LedgerWalk(Migration):
    """A walk over the by-day index; `_visit` does the work on a page's items: (moved, waiting)."""

    name = ""  # the checkpoint's key

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
        self._checkpoint = key(self.name, "#checkpoint")

    def _visit(self, items: list[dict[str, Any]]) -> tuple[int, int]:
        raise NotImplementedError

    def _narrow(self, request: dict[str, Any]) -> None:
        """Leave out of the query what `_visit` has nothing to do with."""

    def run(self) -> int:
        """Do a few pages of the walk; how many entries it changed (0 once it is done)."""
        item = self._client.get_item(TableName=self._name, Key=self._checkpoint, ConsistentRead=True).get(
            "Item"
        )
        now = self._clock()
        if item is not None and (
            "done_at" in item or item.get("not_before", {}).get("S", "") > now.isoformat()
        ):
            return 0
        today = now.astimezone(EAT).date()
        if item is None or "not_before" in item:
            day, until, start, waiting = today - timedelta(days=self._oldest), today, None, 0
        else:
            day, until = date.fromisoformat(item["day"]["S"]), date.fromisoformat(item["until"]["S"])
            start = json.loads(item["start"]["S"]) if "start" in item else None
            waiting = int(item.get("waiting", {}).get("N", "0"))
        moved = 0
        for _ in range(self._pages):
            if day > until:
                break
            items, start = self._page(day, start)
            done, left = self._visit(items)
            moved, waiting = moved + done, waiting + left
            if start is None:
                day += timedelta(days=1)
        self._save(day, until, start, waiting, now)
        return moved

    def _page(
        self, day: date, start: dict[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        request: dict[str, Any] = {
            "TableName": self._name,
            "IndexName": DAY_INDEX,
            "KeyConditionExpression": "#day = :day",
            "ExpressionAttributeNames": {"#day": "day"},
            "ExpressionAttributeValues": {":day": {"S": day.isoformat()}},
            "Limit": self._page_size,
        }
        self._narrow(request)
        if start is not None:
            request["ExclusiveStartKey"] = start
        answer = self._client.query(**request)
        return [i for i in answer.get("Items", []) if not is_own_record(i)], answer.get("LastEvaluatedKey")

    def _save(
        self, day: date, until: date, start: dict[str, Any] | None, waiting: int, now: datetime
    ) -> None:
        item = {
            **self._checkpoint,
            "day": {"S": day.isoformat()},
            "until": {"S": until.isoformat()},
            "waiting": {"N": str(waiting)},
            "updated_at": {"S": now.isoformat()},
        }
        if start is not None:
            item["start"] = {"S": json.dumps(start, sort_keys=True)}
        elif day > until and waiting:
            item["not_before"] = {"S": (now + AGAIN_AFTER).isoformat()}  # a new walk, for what waited
        elif day > until:
            item["done_at"] = item["updated_at"]
        self._client.put_item(TableName=self._name, Item=item)


class RecipientsBackfill(LedgerWalk):
    name = "#recipients-backfill"

    def _narrow(self, request: dict[str, Any]) -> None:
        request["ProjectionExpression"] = "idempotency_key, recipient_ref"

    def _visit(self, items: list[dict[str, Any]]) -> tuple[int, int]:
        self._ledger.note_refs((i["idempotency_key"]["S"], i["recipient_ref"]["S"]) for i in items)
        return len(items), 0


class LegacyRefsRekey(LedgerWalk):
    name = "#legacy-refs-rekey"

    def __init__(
        self, client: DynamoDBClient, table: str, keys: NumberKeys, ttl_days: int = 180, **walk: Any
    ) -> None:
        super().__init__(client, table, ttl_days, **walk)
        self._keys = keys

    def _narrow(self, request: dict[str, Any]) -> None:
        request["FilterExpression"] = "begins_with(recipient_ref, :n) OR begins_with(recipient_ref, :h)"
        request["ExpressionAttributeValues"] |= {":n": {"S": "n:"}, ":h": {"S": "h:"}}

    def _visit(self, items: list[dict[str, Any]]) -> tuple[int, int]:
        moved = waiting = 0
        for item in items:
            if item.get("status", {}).get("S") in FINAL and self._move(item):
                moved += 1
            else:
                waiting += 1
        return moved, waiting

    def _move(self, item: dict[str, Any]) -> bool:
        """The entry under its keyed ref, as it was (its text, its masked number), in one transaction
        that holds only while the entry is as it was read."""
        idempotency_key, old_ref = item["idempotency_key"]["S"], item["recipient_ref"]["S"]
        prefix = KEYED_PREFIX[old_ref.partition(":")[0]]
        new_ref = f"{prefix}:{self._keys.of_ref(old_ref)}"
        now = self._clock().isoformat()
        # `rekeyed_at`: nothing happened to the message (the status events leave it out).
        moved = {**item, "recipient_ref": {"S": new_ref}, "rekeyed_at": {"S": now}}
        moved.pop("check_sk", None)  # a final entry's report check is over
        self._ledger.note_refs([(idempotency_key, new_ref)])
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._name,
                            "Item": moved,
                            "ConditionExpression": "attribute_not_exists(idempotency_key)",
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self._name,
                            "Key": key(idempotency_key, old_ref),
                            "ConditionExpression": "updated_at = :at AND #status = :status",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {
                                ":at": item["updated_at"],
                                ":status": item["status"],
                            },
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False  # changed meanwhile, or already moved: the next walk sees it again
            raise
        self._ledger.forget_recipient(idempotency_key, old_ref)
        return True
