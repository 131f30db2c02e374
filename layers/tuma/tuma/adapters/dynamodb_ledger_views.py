"""What operators read of the ledger (the console, `tuma` commands, `tuma doctor`) beyond the port:
a day's messages, a day's payments, a key's whole story, Tuma's own records; and the console's
resend links. No function uses it, so no port names it. The table's layout is
`tuma.adapters.ledger_table`'s."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.adapters.dynamodb import every_item, python_item
from tuma.adapters.dynamodb_ledger import DynamoDBLedger
from tuma.adapters.ledger_table import (
    DAY_INDEX,
    RESEND_OF,
    RESENT_PREFIX,
    entry_of,
    is_own_record,
    key,
)
from tuma.models.ledger import LedgerEntry


@translates_aws_errors
class LedgerViews(DynamoDBLedger):
    def by_day(
        self,
        day: str,
        *,
        limit: int = 50,
        start: dict[str, Any] | None = None,
        status: str | None = None,
        source: str | None = None,
    ) -> tuple[list[LedgerEntry], dict[str, Any] | None]:
        """A day's entries (East Africa date), newest first, a page at a time (`start`: the
        previous page's last key); filtered by status and source, never by scanning the table."""
        names = {"#day": "day"}
        values: dict[str, Any] = {":day": {"S": day}}
        filters = []
        for name, wanted in (("status", status), ("source", source)):
            if wanted:
                filters.append(f"#{name} = :{name}")
                names[f"#{name}"] = name
                values[f":{name}"] = {"S": wanted}
        request: dict[str, Any] = {
            "TableName": self._name,
            "IndexName": DAY_INDEX,
            "KeyConditionExpression": "#day = :day",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        if start:
            request["ExclusiveStartKey"] = start
        answer = self._client.query(**request)
        entries = [entry_of(i) for i in answer.get("Items", []) if not is_own_record(i)]
        return entries, answer.get("LastEvaluatedKey")

    def payments_on(self, day: str) -> list[dict[str, Any]]:
        """Every payment record of a day (East Africa date of the payment), for the finance view."""
        request = {
            "TableName": self._name,
            "IndexName": DAY_INDEX,
            "KeyConditionExpression": "#day = :day",
            "FilterExpression": "kind = :payment",
            "ExpressionAttributeNames": {"#day": "day"},
            "ExpressionAttributeValues": {":day": {"S": day}, ":payment": {"S": "payment"}},
        }
        return [python_item(item) for item in every_item(self._client.query, request)]

    def record(self, idempotency_key: str, kind: str) -> dict[str, Any] | None:
        """One of Tuma's own records beside a message's entries (`#payment`, `#scheduled`...)."""
        item = self._table.get(idempotency_key, kind)
        return python_item(item) if item else None

    def everything(self, idempotency_key: str) -> tuple[list[LedgerEntry], list[dict[str, Any]]]:
        """A key's entries and its own records (payment, schedule, resend links) in one query."""
        entries, records = [], []
        request = {
            "TableName": self._name,
            "KeyConditionExpression": "idempotency_key = :k",
            "ExpressionAttributeValues": {":k": {"S": idempotency_key}},
            "ConsistentRead": True,
        }
        for item in every_item(self._client.query, request):
            if is_own_record(item):
                records.append(python_item(item))
            else:
                entries.append(entry_of(item))
        return entries, records

    def note_resend(self, original: str, resend: str, at: datetime) -> None:
        """The link both ways: the original lists its resends, a resend names what it repeats."""
        self._table.put_all(
            [
                {
                    **key(original, RESENT_PREFIX + resend),
                    "resend": {"S": resend},
                    "updated_at": {"S": at.isoformat()},
                },
                {**key(resend, RESEND_OF), "resend_of": {"S": original}, "updated_at": {"S": at.isoformat()}},
            ],
            what="resend links",
        )
