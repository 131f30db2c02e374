"""The agenda (`tuma.ports.Agenda`) in the ledger's table: report checks (`#due-dlr`) and scheduled
messages (`#due-send`, with each message's `#scheduled` record), sorted by when they are due. The
table's layout is `tuma.adapters.ledger_table`'s."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.adapters.dynamodb import conditionally
from tuma.adapters.ledger_table import (
    DUE_CHECKS,
    DUE_SENDS,
    SCHEDULE_RECORD,
    OnLedgerTable,
    check_of,
    check_sk,
    due_at_of,
    key,
    send_sk,
)
from tuma.models.ledger import CancelOutcome, DueCheck, LedgerEntry, ScheduledMessage, Status
from tuma.ports import Agenda

if TYPE_CHECKING:
    pass

# A scheduled message's record once it went back to the sender (SCHEDULED before; or CANCELLED).
RELEASED = "RELEASED"


@translates_aws_errors
class DynamoDBAgenda(OnLedgerTable, Agenda):
    # -- report checks -----------------------------------------------------------------------------

    def add_checks(self, checks: Sequence[DueCheck]) -> None:
        """The entries already name their checks (`check_due_at`): only the checks are written."""
        self._table.put_all([self._table.check_item(c) for c in checks], what="report checks")

    def due_checks(self, now: datetime, limit: int) -> list[DueCheck]:
        return [check_of(item) for item in self._table.due(DUE_CHECKS, now, limit)]

    def reschedule_check(self, check: DueCheck, due_at: datetime) -> None:
        later = DueCheck(
            check.idempotency_key,
            check.recipient_ref,
            check.provider_message_id,
            check.sent_at,
            due_at,
            check.attempts + 1,
            check.provider,
        )
        self._client.put_item(TableName=self._name, Item=self._table.check_item(later))
        self.drop_check(check)
        # The entry remembers its check, so that a final callback can end it; an entry that is no
        # longer SENT has had its report.
        conditionally(
            self._client.update_item,
            TableName=self._name,
            Key=key(later.idempotency_key, later.recipient_ref),
            UpdateExpression="SET check_sk = :sk",
            ConditionExpression="#status = :sent",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":sk": {"S": check_sk(later)}, ":sent": {"S": Status.SENT.value}},
        )

    def drop_check(self, check: DueCheck) -> None:
        self._table.delete(DUE_CHECKS, check_sk(check))

    # -- scheduled messages ------------------------------------------------------------------------

    def schedule(self, message: ScheduledMessage, entries: Sequence[LedgerEntry]) -> bool:
        due = send_sk(message.idempotency_key, message.due_at)
        expires = {"N": str(self._table.expires(message.due_at))}
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._name,
                            "Item": {
                                **key(message.idempotency_key, SCHEDULE_RECORD),
                                "status": {"S": Status.SCHEDULED.value},
                                "due_sk": {"S": due},
                                "scheduled_for": {"S": message.due_at.isoformat()},
                                "updated_at": {"S": self._table.now().isoformat()},
                                "expires_at": expires,
                            },
                            # Once per key while it waits: a redelivered or repeated schedule changes
                            # nothing. A message already released may be held again: the promotional
                            # window closed before the sender got to it.
                            "ConditionExpression": "attribute_not_exists(idempotency_key) OR #status = :released",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {":released": {"S": RELEASED}},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._name,
                            "Item": {
                                **key(DUE_SENDS, due),
                                "key": {"S": message.idempotency_key},
                                "body": {"S": message.body},
                                "expires_at": expires,
                            },
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False
            raise
        self._table.note_recipients(entries)
        for entry in entries:
            conditionally(
                self._client.put_item,
                TableName=self._name,
                Item=self._table.entry_item(entry),
                ConditionExpression="attribute_not_exists(idempotency_key)",
            )
        return True

    def due_messages(self, now: datetime, limit: int) -> list[ScheduledMessage]:
        return [
            ScheduledMessage(item["key"]["S"], due_at_of(item["recipient_ref"]["S"]), item["body"]["S"])
            for item in self._table.due(DUE_SENDS, now, limit)
        ]

    def _settle_schedule(self, idempotency_key: str, status: str) -> bool:
        """The scheduled message's own record leaves SCHEDULED once: False if it already had."""
        return conditionally(
            self._client.update_item,
            TableName=self._name,
            Key=key(idempotency_key, SCHEDULE_RECORD),
            UpdateExpression="SET #status = :to, updated_at = :now",
            ConditionExpression="#status = :scheduled",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":to": {"S": status},
                ":scheduled": {"S": Status.SCHEDULED.value},
                ":now": {"S": self._table.now().isoformat()},
            },
        )

    def release(self, message: ScheduledMessage) -> bool:
        try:
            return self._settle_schedule(message.idempotency_key, RELEASED)
        finally:
            self._table.delete(DUE_SENDS, send_sk(message.idempotency_key, message.due_at))

    def cancel(self, idempotency_key: str) -> CancelOutcome:
        record = self._table.get(idempotency_key, SCHEDULE_RECORD)
        if record is None:
            return CancelOutcome.NOT_SCHEDULED
        if not self._settle_schedule(idempotency_key, Status.CANCELLED.value):
            # Cancelled before (by this caller retrying, or another): said again, never "already
            # sent", which a business would read as "the customer got it".
            settled = self._table.get(idempotency_key, SCHEDULE_RECORD) or record
            cancelled = settled.get("status", {}).get("S") == Status.CANCELLED.value
            return CancelOutcome.CANCELLED if cancelled else CancelOutcome.ALREADY_GONE
        self._table.delete(DUE_SENDS, record["due_sk"]["S"])
        now = self._table.now().isoformat()
        for entry in self._table.entries_of(idempotency_key, query=self._may_query):
            if entry.status is not Status.SCHEDULED:
                continue
            conditionally(
                self._client.update_item,
                TableName=self._name,
                Key=key(idempotency_key, entry.recipient_ref),
                UpdateExpression=(
                    "SET #status = :cancelled, updated_at = :now, final_at = :now, "
                    "final_via = :via, reason = :why"
                ),
                ConditionExpression="#status = :scheduled",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":cancelled": {"S": Status.CANCELLED.value},
                    ":scheduled": {"S": Status.SCHEDULED.value},
                    ":now": {"S": now},
                    ":via": {"S": "cancel"},
                    ":why": {"S": "cancelled before its time"},
                },
            )
        return CancelOutcome.CANCELLED
