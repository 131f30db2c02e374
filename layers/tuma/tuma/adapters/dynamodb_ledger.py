"""The ledger (`tuma.ports.Ledger`) in DynamoDB: one entry per message and recipient, the payment
records beside them, delivery reports applied only forward. The table's layout is
`tuma.adapters.ledger_table`'s."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.adapters.dynamodb import conditionally, conditionally_updated
from tuma.adapters.dynamodb_payments import PaymentRecords
from tuma.adapters.ledger_table import (
    ACCEPTED_RECORD,
    DUE_CHECKS,
    RECIPIENT_INDEX,
    check_sk,
    key,
    sent_key,
)
from tuma.models.ledger import (
    PRIMARY,
    DeliveryUpdate,
    DueCheck,
    LedgerEntry,
    ReportOutcome,
    Status,
)
from tuma.ports import Ledger

if TYPE_CHECKING:
    pass


@translates_aws_errors
class DynamoDBLedger(PaymentRecords, Ledger):
    """Messages' entries and their delivery; the payment records beside them are
    `tuma.adapters.dynamodb_payments`'."""

    def write(self, entries: Sequence[LedgerEntry]) -> None:
        self._table.note_recipients(entries)
        self._table.put_all(self._table.entry_items(entries))

    def _put_if_status(self, entry: LedgerEntry, condition: str, statuses: dict[str, Status]) -> bool:
        """Write the entry if its current status fits `condition` (on `#s`); False if it did not."""
        self._table.note_recipients([entry])
        written = conditionally(
            self._client.put_item,
            TableName=self._name,
            Item=self._table.entry_item(entry),
            ConditionExpression=condition,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={name: {"S": status.value} for name, status in statuses.items()},
        )
        if written and entry.provider_message_id:
            self._client.put_item(
                TableName=self._name, Item=self._table.sent_item(entry, entry.recipient_ref)
            )
        return written

    def record_unsendable(self, entries: Sequence[LedgerEntry]) -> None:
        for entry in entries:
            self._put_if_status(
                entry,
                "attribute_not_exists(idempotency_key) OR #s IN (:r, :u)",
                {":r": Status.REJECTED, ":u": Status.UNDELIVERABLE},
            )

    def complete_queued(self, entries: Sequence[LedgerEntry]) -> int:
        return sum(self._put_if_status(entry, "#s = :q", {":q": Status.QUEUED}) for entry in entries)

    def get(self, idempotency_key: str) -> list[LedgerEntry]:
        return self._table.entries_of(idempotency_key, query=self._may_query)

    def note_accepted(self, idempotency_key: str) -> None:
        now = self._table.now()
        conditionally(
            self._client.put_item,
            TableName=self._name,
            Item={
                **key(idempotency_key, ACCEPTED_RECORD),
                "kind": {"S": "accepted"},
                "accepted_at": {"S": now.isoformat()},
                "expires_at": {"N": str(self._table.expires(now))},
            },
            ConditionExpression="attribute_not_exists(idempotency_key)",  # the first acceptance stays
        )

    def accepted_at(self, idempotency_key: str) -> str | None:
        item = self._table.get(idempotency_key, ACCEPTED_RECORD)
        return item["accepted_at"]["S"] if item and "accepted_at" in item else None

    # -- delivery ----------------------------------------------------------------------------------

    def _carrying(
        self, provider: str, provider_message_id: str, entry: tuple[str, str] | None = None
    ) -> dict[str, Any] | None:
        """The key of the entry that carried the provider's message id (`#sent#…`), or None."""
        if entry is not None:
            return key(*entry)
        item = self._client.get_item(
            TableName=self._name, Key=sent_key(provider, provider_message_id), ConsistentRead=True
        ).get("Item")
        return key(item["key"]["S"], item["ref"]["S"]) if item else None

    def apply_delivery(self, update: DeliveryUpdate) -> ReportOutcome:
        found = self._carrying(update.provider, update.provider_message_id, update.entry)
        if found is None:
            return ReportOutcome.UNKNOWN
        values: dict[str, Any] = {
            ":status": {"S": update.status.value},
            ":ds": {"S": update.delivery_status},
            ":rank": {"N": str(update.rank)},
            ":now": {"S": self._table.now().isoformat()},
            ":via": {"S": update.via},
            ":provider": {"S": update.provider},
        }
        expression = (
            "SET #status = :status, delivery_status = :ds, delivery_rank = :rank, updated_at = :now, "
            "report_via = :via"
        )
        if update.final:
            expression += ", final_at = :now, final_via = :via"
        if update.reported_at is not None:
            expression += ", reported_at = :at"
            values[":at"] = {"S": update.reported_at.isoformat()}
        if update.description:
            expression += ", delivery_description = :desc, delivery_class = :kind"
            values[":desc"] = {"S": update.description}
            values[":kind"] = {"S": update.kind or "unknown"}
        # Reports only move forward: a duplicate or a late lesser report changes nothing. And only the
        # provider that carried a message reports on it (ids are theirs; entries from before failover
        # existed name no provider: the primary's).
        # An entry that is gone (its ledger expiry) is not written back by its report.
        condition = "attribute_exists(idempotency_key) AND "
        condition += "(attribute_not_exists(delivery_rank) OR delivery_rank < :rank) AND " + (
            "(attribute_not_exists(provider) OR provider = :provider)"
            if update.provider == PRIMARY
            else "provider = :provider"
        )
        updated = conditionally_updated(
            self._client.update_item,
            TableName=self._name,
            Key=found,
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )
        if updated is None:
            return ReportOutcome.STALE
        if update.final and "check_sk" in updated:
            self._table.delete(DUE_CHECKS, updated["check_sk"]["S"])
        return ReportOutcome.APPLIED

    def recipients_of(
        self, provider_message_id: str, provider: str, entry: tuple[str, str] | None = None
    ) -> list[tuple[str, str]]:
        found = self._carrying(provider, provider_message_id, entry)
        if found is None:
            return []
        item = self._client.get_item(
            TableName=self._name, Key=found, ProjectionExpression="recipient_ref, recipient, provider"
        ).get("Item")
        if item is None or item.get("provider", {}).get("S", PRIMARY) != provider:
            return []  # message ids are each provider's own
        return [(item["recipient_ref"]["S"], item.get("recipient", {}).get("S", "-"))]

    def expire(self, check: DueCheck, reason: str) -> bool:
        try:
            return conditionally(
                self._client.update_item,
                TableName=self._name,
                Key=key(check.idempotency_key, check.recipient_ref),
                UpdateExpression=(
                    "SET #status = :expired, reason = :reason, final_at = :now, final_via = :via, "
                    "updated_at = :now, delivery_rank = :rank"
                ),
                # Only what is still waiting for its report: a report that arrived meanwhile wins.
                ConditionExpression=(
                    "#status = :sent AND (attribute_not_exists(delivery_rank) OR delivery_rank < :final)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":expired": {"S": Status.EXPIRED.value},
                    ":sent": {"S": Status.SENT.value},
                    ":reason": {"S": reason[:500]},
                    ":now": {"S": self._table.now().isoformat()},
                    ":via": {"S": "expiry"},
                    # Delivery ranks (tuma.services.delivery_reports): from 3 a report is final; a
                    # late final report may still replace the expiry.
                    ":rank": {"N": "2"},
                    ":final": {"N": "3"},
                },
            )
        finally:
            self._table.delete(DUE_CHECKS, check_sk(check))

    def by_recipient(self, recipient_ref: str, limit: int = 50) -> list[LedgerEntry]:
        answer = self._client.query(
            TableName=self._name,
            IndexName=RECIPIENT_INDEX,
            KeyConditionExpression="recipient_ref = :r",
            ExpressionAttributeValues={":r": {"S": recipient_ref}},
            ScanIndexForward=False,
            Limit=limit,
        )
        keys = [i["idempotency_key"]["S"] for i in answer.get("Items", [])]
        return [e for k in keys for e in self.get(k) if e.recipient_ref == recipient_ref]
