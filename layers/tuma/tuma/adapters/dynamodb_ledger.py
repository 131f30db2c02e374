"""The ledger (`tuma.ports.Ledger`) in DynamoDB: one entry per message and recipient, the payment
records beside them, delivery reports applied only forward. The table's layout is
`tuma.adapters.ledger_table`'s."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.adapters.dynamodb import attribute, batch_get, conditionally, every_item, python_item
from tuma.adapters.ledger_table import (
    DAY_INDEX,
    DUE_CHECKS,
    MESSAGE_ID_INDEX,
    PAYMENT_RECORD,
    RECIPIENT_INDEX,
    STATUS_ANSWER_RECORD,
    STATUS_QUERY_RECORD,
    OnLedgerTable,
    check_sk,
    iso,
    key,
)
from tuma.formatting.clock import EAT, parse_time
from tuma.models.ledger import (
    CALLBACK_SOURCES,
    CONFIRMING_SOURCES,
    PRIMARY,
    Confirmation,
    DeliveryUpdate,
    DueCheck,
    LedgerEntry,
    PaymentSeen,
    ReportOutcome,
    Status,
    confirmation_of,
)
from tuma.models.sources import PaymentSource
from tuma.ports import Ledger

if TYPE_CHECKING:
    from tuma.models.daraja import StatusQuery


@translates_aws_errors
class DynamoDBLedger(OnLedgerTable, Ledger):
    def write(self, entries: Sequence[LedgerEntry]) -> None:
        self._table.put_all([self._table.entry_item(e) for e in entries])

    def _put_if_status(self, entry: LedgerEntry, condition: str, statuses: dict[str, Status]) -> bool:
        """Write the entry if its current status fits `condition` (on `#s`); False if it did not."""
        return conditionally(
            self._client.put_item,
            TableName=self._name,
            Item=self._table.entry_item(entry),
            ConditionExpression=condition,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={name: {"S": status.value} for name, status in statuses.items()},
        )

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
        return self._table.entries(idempotency_key)

    # -- payments ----------------------------------------------------------------------------------

    def note_payment(self, seen: PaymentSeen) -> None:
        now = self._table.now()
        # `day` is the payment's own day (East Africa): the record is in the by-day index with the
        # messages of that day, which is how finance lists a day's payments.
        day = (seen.paid_at or now).astimezone(EAT).date().isoformat()
        expression = (
            "ADD sources :source SET kind = :kind, updated_at = :now, expires_at = :expires, "
            "first_seen = if_not_exists(first_seen, :now), first_source = if_not_exists(first_source, :first), "
            "#day = if_not_exists(#day, :day)"
        )
        names = {"#day": "day"}
        values: dict[str, Any] = {
            ":source": {"SS": [seen.source]},
            ":first": {"S": seen.source},
            ":kind": {"S": "payment"},
            ":now": {"S": now.isoformat()},
            ":day": {"S": day},
            ":expires": {"N": str(self._table.expires(now))},
        }
        facts = {
            "amount": seen.amount,
            "currency": seen.currency,
            "account": seen.account,
            "short_code": seen.short_code,
            "paid_at": iso(seen.paid_at),
        }
        for name, value in facts.items():
            if value:
                expression += f", #{name} = if_not_exists(#{name}, :{name})"
                names[f"#{name}"] = name
                values[f":{name}"] = {"S": value}
        record = key(seen.reference, PAYMENT_RECORD)
        # One write when this source's number is the best so far (the usual case), two when not.
        if seen.payer is not None and conditionally(
            self._client.update_item,
            TableName=self._name,
            Key=record,
            UpdateExpression=expression + ", payer = :payer, payer_rank = :rank, payer_masked = :masked",
            ConditionExpression="attribute_not_exists(payer_rank) OR payer_rank < :rank",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values
            | {
                ":payer": {"S": seen.payer},
                ":rank": {"N": str(seen.payer_rank)},
                ":masked": {"S": seen.payer_masked or "-"},
            },
        ):
            return
        self._client.update_item(
            TableName=self._name,
            Key=record,
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def best_payers(self, references: Sequence[str]) -> dict[str, str]:
        records = self._payment_records(references, "idempotency_key, payer")
        return {ref: item["payer"]["S"] for ref, item in records.items() if "payer" in item}

    def payment_sources(self, references: Sequence[str]) -> dict[str, frozenset[str]]:
        records = self._payment_records(references, "idempotency_key, sources")
        return {ref: frozenset(item.get("sources", {}).get("SS", [])) for ref, item in records.items()}

    def _payment_records(self, references: Sequence[str], projection: str) -> dict[str, dict[str, Any]]:
        keys = [key(ref, PAYMENT_RECORD) for ref in sorted(set(references))]
        found = batch_get(self._client, self._name, keys, what="payment records", projection=projection)
        return {item["idempotency_key"]["S"]: item for item in found}

    def note_status_answer(self, reference: str, answer: Mapping[str, str]) -> None:
        now = self._table.now()
        item: dict[str, str | int] = {
            "idempotency_key": reference,
            "recipient_ref": STATUS_ANSWER_RECORD,
            "kind": "status-answer",
            **{name: value for name, value in answer.items() if value},
            "updated_at": now.isoformat(),
            "expires_at": self._table.expires(now),
        }
        self._client.put_item(TableName=self._name, Item={k: attribute(v) for k, v in item.items()})

    def unconfirmed_payments(self, since: datetime, before: datetime) -> list[str]:
        found = []
        for day in _days(since, before):
            request = {
                "TableName": self._name,
                "IndexName": DAY_INDEX,
                "KeyConditionExpression": "#day = :day",
                "FilterExpression": "kind = :payment AND attribute_not_exists(unconfirmed_at)",
                "ExpressionAttributeNames": {"#day": "day"},
                "ExpressionAttributeValues": {":day": {"S": day}, ":payment": {"S": "payment"}},
            }
            for item in every_item(self._client.query, request):
                record = python_item(item)
                if _unconfirmed(record, since, before):
                    found.append(str(record["idempotency_key"]))
        return found

    def mark_unconfirmed(self, reference: str, at: datetime) -> bool:
        return conditionally(
            self._client.update_item,
            TableName=self._name,
            Key=key(reference, PAYMENT_RECORD),
            UpdateExpression="SET unconfirmed_at = :at",
            ConditionExpression=(
                "kind = :payment AND attribute_not_exists(unconfirmed_at) "
                "AND NOT contains(sources, :pull) AND NOT contains(sources, :asked)"
            ),
            ExpressionAttributeValues={
                ":at": {"S": _instant(at)},
                ":payment": {"S": "payment"},
                ":pull": {"S": PaymentSource.PULL.value},
                ":asked": {"S": PaymentSource.STATUS_QUERY.value},
            },
        )

    def payment_confirmation(self, reference: str) -> Confirmation | None:
        item = self._table.get(reference, PAYMENT_RECORD)
        return confirmation_of(python_item(item)) if item else None

    def record_status_query(self, query: StatusQuery) -> None:
        item: dict[str, str | int] = {
            "idempotency_key": query.receipt,
            "recipient_ref": STATUS_QUERY_RECORD,
            "kind": "status-query",
            "originator_conversation_id": query.originator_conversation_id,
            "conversation_id": query.conversation_id,
            "asked_at": _instant(query.asked_at),
            "answer_by": _instant(query.expires_at),
            "expires_at": self._table.expires(query.asked_at),
        }
        self._client.put_item(TableName=self._name, Item={k: attribute(v) for k, v in item.items()})

    def answer_status_query(
        self, reference: str, originator_conversation_id: str, conversation_id: str, now: datetime
    ) -> bool:
        return conditionally(
            self._client.update_item,
            TableName=self._name,
            Key={"idempotency_key": {"S": reference}, "recipient_ref": {"S": STATUS_QUERY_RECORD}},
            UpdateExpression="SET answered_at = :now",
            ConditionExpression=(
                "originator_conversation_id = :o AND conversation_id = :c AND answer_by > :now "
                "AND attribute_not_exists(answered_at)"
            ),
            ExpressionAttributeValues={
                ":o": {"S": originator_conversation_id},
                ":c": {"S": conversation_id},
                ":now": {"S": _instant(now)},
            },
        )

    # -- delivery ----------------------------------------------------------------------------------

    def _carrying(self, provider_message_id: str) -> list[dict[str, Any]]:
        return self._client.query(
            TableName=self._name,
            IndexName=MESSAGE_ID_INDEX,
            KeyConditionExpression="provider_message_id = :m",
            ExpressionAttributeValues={":m": {"S": provider_message_id}},
        ).get("Items", [])

    def apply_delivery(self, update: DeliveryUpdate) -> ReportOutcome:
        found = self._carrying(update.provider_message_id)
        if not found:
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
        condition = "(attribute_not_exists(delivery_rank) OR delivery_rank < :rank) AND " + (
            "(attribute_not_exists(provider) OR provider = :provider)"
            if update.provider == PRIMARY
            else "provider = :provider"
        )
        outcome = ReportOutcome.STALE
        for item in found:
            if not conditionally(
                self._client.update_item,
                TableName=self._name,
                Key={"idempotency_key": item["idempotency_key"], "recipient_ref": item["recipient_ref"]},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            ):
                continue
            outcome = ReportOutcome.APPLIED
            if update.final and "check_sk" in item:
                self._table.delete(DUE_CHECKS, item["check_sk"]["S"])
        return outcome

    def recipients_of(self, provider_message_id: str, provider: str) -> list[tuple[str, str]]:
        recipients = []
        for keys in self._carrying(provider_message_id):
            item = self._client.get_item(
                TableName=self._name,
                Key={"idempotency_key": keys["idempotency_key"], "recipient_ref": keys["recipient_ref"]},
                ProjectionExpression="recipient_ref, recipient, provider",
            ).get("Item")
            if item is None or item.get("provider", {}).get("S", PRIMARY) != provider:
                continue  # message ids are the provider's own: another provider's id may be the same
            recipients.append((item["recipient_ref"]["S"], item.get("recipient", {}).get("S", "-")))
        return recipients

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


def _instant(moment: datetime) -> str:
    """UTC, to the microsecond: one format, so that two instants compare as their text does."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _days(since: datetime, before: datetime) -> list[str]:
    """The East Africa dates from `since` to `before`, both included (the by-day index's keys)."""
    first, last = since.astimezone(EAT).date(), before.astimezone(EAT).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _unconfirmed(record: Mapping[str, Any], since: datetime, before: datetime) -> bool:
    """Reported only by Daraja's callbacks, paid in [since, before), and not confirmed."""
    sources = {str(source) for source in record.get("sources") or ()}
    if not sources & CALLBACK_SOURCES or sources & CONFIRMING_SOURCES:
        return False
    try:
        paid = parse_time(str(record.get("paid_at") or record.get("first_seen") or ""))
    except ValueError:
        return False
    return since <= paid < before
