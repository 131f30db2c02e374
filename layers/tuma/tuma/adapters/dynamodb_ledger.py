"""The ledger in DynamoDB: key (idempotency_key, recipient_ref), an index on provider_message_id, TTL."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from tuma.adapters.dynamodb import attribute, is_conditional_failure, python_item
from tuma.batching import chunked
from tuma.formatting.clock import EAT
from tuma.models.ledger import (
    PRIMARY,
    CancelOutcome,
    DeliveryUpdate,
    DueCheck,
    LedgerEntry,
    PaymentSeen,
    ReportOutcome,
    ScheduledMessage,
    Status,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MESSAGE_ID_INDEX = "by-provider-message-id"
RECIPIENT_INDEX = "by-recipient"
DAY_INDEX = "by-day"
# The payment's own record beside its recipients' entries: which sources saw it, its best payer number.
PAYMENT_RECORD = "#payment"
# M-Pesa's latest Transaction Status answer about a receipt number (tuma daraja status, the console).
STATUS_ANSWER_RECORD = "#status-answer"
# A scheduled message's own record: SCHEDULED until released or cancelled.
SCHEDULE_RECORD = "#scheduled"
# What is due later lives in two partitions of the same table, sorted by when it is due.
DUE_CHECKS = "#due-dlr"
DUE_SENDS = "#due-send"
_BATCH = 25  # BatchWriteItem's limit


class DynamoDBLedger:
    def __init__(self, client: DynamoDBClient, table: str, ttl_days: int = 180) -> None:
        self._client = client
        self._table = table
        self._ttl_seconds = ttl_days * 86400

    def _item(self, entry: LedgerEntry) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "idempotency_key": entry.idempotency_key,
            "recipient_ref": entry.recipient_ref,
            "recipient": entry.recipient,
            "status": entry.status.value,
            "template": entry.template,
            "route": entry.route,
            "source": entry.source,
            "parts": entry.parts,
            "provider_message_id": entry.provider_message_id,
            "provider": entry.provider,
            "provider_code": entry.provider_code,
            "reason": entry.reason,
            "attempts": entry.attempts,
            "delivery_status": entry.delivery_status,
            "text": entry.text,
            "updated_at": entry.updated_at.isoformat(),
            "day": entry.updated_at.astimezone(EAT).date().isoformat(),
            "queued_at": _iso(entry.queued_at),
            "sent_at": _iso(entry.sent_at),
            "final_at": _iso(entry.final_at),
            "final_via": entry.final_via,
            "scheduled_for": _iso(entry.scheduled_for),
            "check_sk": _check_sk_of(entry.idempotency_key, entry.recipient_ref, entry.check_due_at),
            "expires_at": int(entry.updated_at.timestamp()) + self._ttl_seconds,
        }
        # An index key cannot be NULL or empty; absent attributes simply leave the item out of the index.
        return {k: attribute(v) for k, v in raw.items() if v is not None and v != ""}

    def write(self, entries: Sequence[LedgerEntry]) -> None:
        self.write_items([self._item(e) for e in entries])

    def write_items(self, items: Sequence[dict[str, Any]]) -> None:
        requests = [{"PutRequest": {"Item": item}} for item in items]
        chunks = [list(chunk) for chunk in chunked(requests, _BATCH)]
        if len(chunks) <= 1:
            for chunk in chunks:
                self._write_chunk(chunk)
            return
        with ThreadPoolExecutor(max_workers=min(8, len(chunks))) as pool:
            list(pool.map(self._write_chunk, chunks))

    def _write_chunk(self, pending: list[Any]) -> None:
        for attempt in range(8):
            answer = self._client.batch_write_item(RequestItems={self._table: pending})
            pending = answer.get("UnprocessedItems", {}).get(self._table, [])
            if not pending:
                return
            time.sleep(min(1.0, 0.05 * 2**attempt))  # throttled: DynamoDB asks for backoff
        raise RuntimeError(f"ledger write throttled: {len(pending)} entries unprocessed")

    def _put_if_status(self, entry: LedgerEntry, condition: str, statuses: dict[str, Status]) -> bool:
        """Write the entry if its current status fits `condition` (on `#s`); False if it did not."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(entry),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={name: {"S": status.value} for name, status in statuses.items()},
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            return False
        return True

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
        answer = self._client.query(
            TableName=self._table,
            KeyConditionExpression="idempotency_key = :k",
            ExpressionAttributeValues={":k": {"S": idempotency_key}},
            ConsistentRead=True,
        )
        return [
            _entry(item) for item in answer.get("Items", []) if not item["recipient_ref"]["S"].startswith("#")
        ]

    def note_payment(self, seen: PaymentSeen) -> None:
        key = {"idempotency_key": {"S": seen.reference}, "recipient_ref": {"S": PAYMENT_RECORD}}
        now = datetime.now(UTC)
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
            ":expires": {"N": str(int(now.timestamp()) + self._ttl_seconds)},
        }
        facts = {
            "amount": seen.amount,
            "currency": seen.currency,
            "account": seen.account,
            "short_code": seen.short_code,
            "paid_at": _iso(seen.paid_at),
        }
        for name, value in facts.items():
            if value:
                expression += f", #{name} = if_not_exists(#{name}, :{name})"
                names[f"#{name}"] = name
                values[f":{name}"] = {"S": value}
        if seen.payer is not None:
            # One write when this source's number is the best so far (the usual case), two when not.
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression=expression
                    + ", payer = :payer, payer_rank = :rank, payer_masked = :masked",
                    ConditionExpression="attribute_not_exists(payer_rank) OR payer_rank < :rank",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values
                    | {
                        ":payer": {"S": seen.payer},
                        ":rank": {"N": str(seen.payer_rank)},
                        ":masked": {"S": seen.payer_masked or "-"},
                    },
                )
                return
            except ClientError as exc:
                if not is_conditional_failure(exc):
                    raise
        self._client.update_item(
            TableName=self._table,
            Key=key,
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
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunked(sorted(set(references)), 100):
            pending: dict[str, Any] = {
                self._table: {
                    "Keys": [
                        {"idempotency_key": {"S": ref}, "recipient_ref": {"S": PAYMENT_RECORD}}
                        for ref in chunk
                    ],
                    "ProjectionExpression": projection,
                }
            }
            for attempt in range(8):
                answer = self._client.batch_get_item(RequestItems=pending)
                for item in answer.get("Responses", {}).get(self._table, []):
                    found[item["idempotency_key"]["S"]] = item
                pending = answer.get("UnprocessedKeys") or {}
                if not pending:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))
        return found

    def apply_delivery(self, update: DeliveryUpdate) -> ReportOutcome:
        found = self._client.query(
            TableName=self._table,
            IndexName=MESSAGE_ID_INDEX,
            KeyConditionExpression="provider_message_id = :m",
            ExpressionAttributeValues={":m": {"S": update.provider_message_id}},
        ).get("Items", [])
        if not found:
            return ReportOutcome.UNKNOWN
        outcome = ReportOutcome.STALE
        for item in found:
            now = datetime.now(UTC)
            values: dict[str, Any] = {
                ":status": {"S": update.status.value},
                ":ds": {"S": update.delivery_status},
                ":rank": {"N": str(update.rank)},
                ":now": {"S": now.isoformat()},
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
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"idempotency_key": item["idempotency_key"], "recipient_ref": item["recipient_ref"]},
                    UpdateExpression=expression,
                    # Reports only move forward: a duplicate or a late lesser report changes nothing.
                    # And only the provider that carried a message reports on it (ids are theirs;
                    # entries from before failover existed name no provider: the primary's).
                    ConditionExpression=(
                        "(attribute_not_exists(delivery_rank) OR delivery_rank < :rank) AND "
                        + (
                            "(attribute_not_exists(provider) OR provider = :provider)"
                            if update.provider == PRIMARY
                            else "provider = :provider"
                        )
                    ),
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                )
                outcome = ReportOutcome.APPLIED
            except ClientError as exc:
                if not is_conditional_failure(exc):
                    raise
                continue
            if update.final and "check_sk" in item:
                self._delete(DUE_CHECKS, item["check_sk"]["S"])
        return outcome

    def recipients_of(self, provider_message_id: str, provider: str) -> list[tuple[str, str]]:
        found = self._client.query(
            TableName=self._table,
            IndexName=MESSAGE_ID_INDEX,
            KeyConditionExpression="provider_message_id = :m",
            ExpressionAttributeValues={":m": {"S": provider_message_id}},
        ).get("Items", [])
        recipients = []
        for keys in found:
            item = self._client.get_item(
                TableName=self._table,
                Key={"idempotency_key": keys["idempotency_key"], "recipient_ref": keys["recipient_ref"]},
                ProjectionExpression="recipient_ref, recipient, provider",
            ).get("Item")
            if item is None or item.get("provider", {}).get("S", PRIMARY) != provider:
                continue  # message ids are the provider's own: another provider's id may be the same
            recipients.append((item["recipient_ref"]["S"], item.get("recipient", {}).get("S", "-")))
        return recipients

    def expire(self, check: DueCheck, reason: str) -> bool:
        now = datetime.now(UTC)
        try:
            self._client.update_item(
                TableName=self._table,
                Key={
                    "idempotency_key": {"S": check.idempotency_key},
                    "recipient_ref": {"S": check.recipient_ref},
                },
                UpdateExpression=(
                    "SET #status = :expired, reason = :reason, final_at = :now, final_via = :via, "
                    "updated_at = :now, delivery_rank = :rank"
                ),
                # Only what is still waiting for its report: a report that arrived meanwhile wins.
                ConditionExpression="#status = :sent AND (attribute_not_exists(delivery_rank) OR delivery_rank < :final)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":expired": {"S": Status.EXPIRED.value},
                    ":sent": {"S": Status.SENT.value},
                    ":reason": {"S": reason[:500]},
                    ":now": {"S": now.isoformat()},
                    ":via": {"S": "expiry"},
                    ":rank": {"N": "2"},  # a late final report may still replace it
                    ":final": {"N": "3"},
                },
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            return False
        finally:
            self.drop_check(check)
        return True

    def by_recipient(self, recipient_ref: str, limit: int = 50) -> list[LedgerEntry]:
        answer = self._client.query(
            TableName=self._table,
            IndexName=RECIPIENT_INDEX,
            KeyConditionExpression="recipient_ref = :r",
            ExpressionAttributeValues={":r": {"S": recipient_ref}},
            ScanIndexForward=False,
            Limit=limit,
        )
        keys = [(i["idempotency_key"]["S"], i["recipient_ref"]["S"]) for i in answer.get("Items", [])]
        return [e for key, _ in keys for e in self.get(key) if e.recipient_ref == recipient_ref]

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
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DAY_INDEX,
            "KeyConditionExpression": "#day = :day",
            "ExpressionAttributeNames": {"#day": "day"},
            "ExpressionAttributeValues": {":day": {"S": day}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        filters = []
        if status:
            filters.append("#status = :status")
            request["ExpressionAttributeNames"]["#status"] = "status"
            request["ExpressionAttributeValues"][":status"] = {"S": status}
        if source:
            filters.append("#source = :source")
            request["ExpressionAttributeNames"]["#source"] = "source"
            request["ExpressionAttributeValues"][":source"] = {"S": source}
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        if start:
            request["ExclusiveStartKey"] = start
        answer = self._client.query(**request)
        entries = [_entry(i) for i in answer.get("Items", []) if not i["recipient_ref"]["S"].startswith("#")]
        return entries, answer.get("LastEvaluatedKey")

    def payments_on(self, day: str) -> list[dict[str, Any]]:
        """Every payment record of a day (East Africa date of the payment), for the finance view."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DAY_INDEX,
            "KeyConditionExpression": "#day = :day",
            "FilterExpression": "kind = :payment",
            "ExpressionAttributeNames": {"#day": "day"},
            "ExpressionAttributeValues": {":day": {"S": day}, ":payment": {"S": "payment"}},
        }
        records: list[dict[str, Any]] = []
        while True:
            answer = self._client.query(**request)
            records += [python_item(item) for item in answer.get("Items", [])]
            if "LastEvaluatedKey" not in answer:
                return records
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def record(self, idempotency_key: str, kind: str) -> dict[str, Any] | None:
        """One of Tuma's own records beside a message's entries (`#payment`, `#scheduled`)."""
        item = self._client.get_item(
            TableName=self._table,
            Key={"idempotency_key": {"S": idempotency_key}, "recipient_ref": {"S": kind}},
            ConsistentRead=True,
        ).get("Item")
        return python_item(item) if item else None

    def note_resend(self, original: str, resend: str, at: datetime) -> None:
        """The link both ways: the original lists its resends, a resend names what it repeats."""
        self.write_items(
            [
                {
                    "idempotency_key": {"S": original},
                    "recipient_ref": {"S": f"#resent#{resend}"},
                    "resend": {"S": resend},
                    "updated_at": {"S": at.isoformat()},
                },
                {
                    "idempotency_key": {"S": resend},
                    "recipient_ref": {"S": "#resend-of"},
                    "resend_of": {"S": original},
                    "updated_at": {"S": at.isoformat()},
                },
            ]
        )

    def note_status_answer(self, reference: str, answer: Mapping[str, str]) -> None:
        now = datetime.now(UTC)
        item: dict[str, str | int] = {
            "idempotency_key": reference,
            "recipient_ref": STATUS_ANSWER_RECORD,
            "kind": "status-answer",
            **{name: value for name, value in answer.items() if value},
            "updated_at": now.isoformat(),
            "expires_at": int(now.timestamp()) + self._ttl_seconds,
        }
        self._client.put_item(TableName=self._table, Item={k: attribute(v) for k, v in item.items()})

    def everything(self, idempotency_key: str) -> tuple[list[LedgerEntry], list[dict[str, Any]]]:
        """A key's entries and its own records (payment, schedule, resend links) in one query."""
        entries, records = [], []
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "idempotency_key = :k",
            "ExpressionAttributeValues": {":k": {"S": idempotency_key}},
            "ConsistentRead": True,
        }
        while True:
            answer = self._client.query(**query)
            for item in answer.get("Items", []):
                if item["recipient_ref"]["S"].startswith("#"):
                    records.append(python_item(item))
                else:
                    entries.append(_entry(item))
            if "LastEvaluatedKey" not in answer:
                return entries, records
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    # -- the agenda: what is due later ------------------------------------------------------------

    def add_checks(self, checks: Sequence[DueCheck]) -> None:
        """The entries already name their checks (`check_due_at`): only the checks are written."""
        self.write_items([self._check_item(c) for c in checks])

    def _check_item(self, check: DueCheck) -> dict[str, Any]:
        return {
            "idempotency_key": {"S": DUE_CHECKS},
            "recipient_ref": {"S": _check_sk(check)},
            "key": {"S": check.idempotency_key},
            "ref": {"S": check.recipient_ref},
            "provider_message_id": {"S": check.provider_message_id},
            "provider": {"S": check.provider},
            "sent_at": {"S": check.sent_at.isoformat()},
            "attempts": {"N": str(check.attempts)},
            "expires_at": {"N": str(int(check.due_at.timestamp()) + self._ttl_seconds)},
        }

    def due_checks(self, now: datetime, limit: int) -> list[DueCheck]:
        return [_check(item) for item in self._due(DUE_CHECKS, now, limit)]

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
        self._client.put_item(TableName=self._table, Item=self._check_item(later))
        self.drop_check(check)
        self._link(later)

    def drop_check(self, check: DueCheck) -> None:
        self._delete(DUE_CHECKS, _check_sk(check))

    def _link(self, check: DueCheck) -> None:
        """The entry remembers its check, so that a final callback can end it."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={
                    "idempotency_key": {"S": check.idempotency_key},
                    "recipient_ref": {"S": check.recipient_ref},
                },
                UpdateExpression="SET check_sk = :sk",
                ConditionExpression="#status = :sent",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":sk": {"S": _check_sk(check)}, ":sent": {"S": Status.SENT.value}},
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise

    def schedule(self, message: ScheduledMessage, entries: Sequence[LedgerEntry]) -> bool:
        due_sk = f"#{int(message.due_at.timestamp()):012d}#{message.idempotency_key}"
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "idempotency_key": {"S": message.idempotency_key},
                                "recipient_ref": {"S": SCHEDULE_RECORD},
                                "status": {"S": Status.SCHEDULED.value},
                                "due_sk": {"S": due_sk},
                                "scheduled_for": {"S": message.due_at.isoformat()},
                                "updated_at": {"S": datetime.now(UTC).isoformat()},
                                "expires_at": {"N": str(int(message.due_at.timestamp()) + self._ttl_seconds)},
                            },
                            # Once per key: a redelivered or repeated schedule changes nothing.
                            "ConditionExpression": "attribute_not_exists(idempotency_key)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "idempotency_key": {"S": DUE_SENDS},
                                "recipient_ref": {"S": due_sk},
                                "key": {"S": message.idempotency_key},
                                "body": {"S": message.body},
                                "expires_at": {"N": str(int(message.due_at.timestamp()) + self._ttl_seconds)},
                            },
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False
            raise
        for entry in entries:
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=self._item(entry),
                    ConditionExpression="attribute_not_exists(idempotency_key)",
                )
            except ClientError as exc:
                if not is_conditional_failure(exc):
                    raise
        return True

    def due_messages(self, now: datetime, limit: int) -> list[ScheduledMessage]:
        return [
            ScheduledMessage(
                item["key"]["S"],
                datetime.fromtimestamp(int(item["recipient_ref"]["S"].split("#")[1]), UTC),
                item["body"]["S"],
            )
            for item in self._due(DUE_SENDS, now, limit)
        ]

    def release(self, message: ScheduledMessage) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={
                    "idempotency_key": {"S": message.idempotency_key},
                    "recipient_ref": {"S": SCHEDULE_RECORD},
                },
                UpdateExpression="SET #status = :released, updated_at = :now",
                ConditionExpression="#status = :scheduled",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":released": {"S": "RELEASED"},
                    ":scheduled": {"S": Status.SCHEDULED.value},
                    ":now": {"S": datetime.now(UTC).isoformat()},
                },
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            return False
        finally:
            self._delete(DUE_SENDS, f"#{int(message.due_at.timestamp()):012d}#{message.idempotency_key}")
        return True

    def cancel(self, idempotency_key: str) -> CancelOutcome:
        record = self._client.get_item(
            TableName=self._table,
            Key={"idempotency_key": {"S": idempotency_key}, "recipient_ref": {"S": SCHEDULE_RECORD}},
            ConsistentRead=True,
        ).get("Item")
        if record is None:
            return CancelOutcome.NOT_SCHEDULED
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"idempotency_key": {"S": idempotency_key}, "recipient_ref": {"S": SCHEDULE_RECORD}},
                UpdateExpression="SET #status = :cancelled, updated_at = :now",
                ConditionExpression="#status = :scheduled",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":cancelled": {"S": Status.CANCELLED.value},
                    ":scheduled": {"S": Status.SCHEDULED.value},
                    ":now": {"S": datetime.now(UTC).isoformat()},
                },
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            return CancelOutcome.ALREADY_GONE
        self._delete(DUE_SENDS, record["due_sk"]["S"])
        now = datetime.now(UTC)
        for entry in self.get(idempotency_key):
            if entry.status is Status.SCHEDULED:
                self._client.update_item(
                    TableName=self._table,
                    Key={
                        "idempotency_key": {"S": idempotency_key},
                        "recipient_ref": {"S": entry.recipient_ref},
                    },
                    UpdateExpression="SET #status = :cancelled, updated_at = :now, final_at = :now, final_via = :via, reason = :why",
                    ConditionExpression="#status = :scheduled",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":cancelled": {"S": Status.CANCELLED.value},
                        ":scheduled": {"S": Status.SCHEDULED.value},
                        ":now": {"S": now.isoformat()},
                        ":via": {"S": "cancel"},
                        ":why": {"S": "cancelled before its time"},
                    },
                )
        return CancelOutcome.CANCELLED

    def _due(self, partition: str, now: datetime, limit: int) -> list[dict[str, Any]]:
        answer = self._client.query(
            TableName=self._table,
            KeyConditionExpression="idempotency_key = :p AND recipient_ref <= :now",
            ExpressionAttributeValues={
                ":p": {"S": partition},
                ":now": {"S": f"#{int(now.timestamp()):012d}~"},
            },
            ConsistentRead=True,
            Limit=limit,
        )
        return list(answer.get("Items", []))

    def _delete(self, partition: str, sk: str) -> None:
        self._client.delete_item(
            TableName=self._table, Key={"idempotency_key": {"S": partition}, "recipient_ref": {"S": sk}}
        )


def _entry(item: dict[str, Any]) -> LedgerEntry:
    data = python_item(item)

    def number(name: str) -> int | None:
        return int(data[name]) if name in data else None

    return LedgerEntry(
        idempotency_key=data["idempotency_key"],
        recipient_ref=data["recipient_ref"],
        recipient=data.get("recipient", ""),
        status=Status(data["status"]),
        template=data.get("template"),
        route=data.get("route"),
        source=data.get("source"),
        parts=number("parts"),
        provider_message_id=data.get("provider_message_id"),
        provider=data.get("provider"),
        provider_code=number("provider_code"),
        reason=data.get("reason"),
        attempts=number("attempts"),
        delivery_status=data.get("delivery_status"),
        text=data.get("text"),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        queued_at=_time(data.get("queued_at")),
        sent_at=_time(data.get("sent_at")),
        final_at=_time(data.get("final_at")),
        final_via=data.get("final_via"),
        scheduled_for=_time(data.get("scheduled_for")),
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _check_sk(check: DueCheck) -> str:
    return f"#{int(check.due_at.timestamp()):012d}#{check.idempotency_key}#{check.recipient_ref}"


def _check_sk_of(key: str, ref: str, due_at: datetime | None) -> str | None:
    return None if due_at is None else f"#{int(due_at.timestamp()):012d}#{key}#{ref}"


def _check(item: dict[str, Any]) -> DueCheck:
    return DueCheck(
        item["key"]["S"],
        item["ref"]["S"],
        item["provider_message_id"]["S"],
        datetime.fromisoformat(item["sent_at"]["S"]),
        datetime.fromtimestamp(int(item["recipient_ref"]["S"].split("#")[1]), UTC),
        int(item["attempts"]["N"]),
        item.get("provider", {}).get("S", PRIMARY),
    )
