"""The ledger in DynamoDB: key (idempotency_key, recipient_ref), an index on provider_message_id, TTL."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from tuma.adapters.dynamodb import is_conditional_failure
from tuma.batching import chunked
from tuma.models.ledger import DeliveryUpdate, LedgerEntry, PaymentSeen, ReportOutcome, Status

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MESSAGE_ID_INDEX = "by-provider-message-id"
# The payment's own record beside its recipients' entries: which sources saw it, its best payer number.
PAYMENT_RECORD = "#payment"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
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
            "provider_code": entry.provider_code,
            "reason": entry.reason,
            "attempts": entry.attempts,
            "delivery_status": entry.delivery_status,
            "text": entry.text,
            "updated_at": entry.updated_at.isoformat(),
            "expires_at": int(entry.updated_at.timestamp()) + self._ttl_seconds,
        }
        # An index key cannot be NULL or empty; absent attributes simply leave the item out of the index.
        return {k: _serializer.serialize(v) for k, v in raw.items() if v is not None and v != ""}

    def write(self, entries: Sequence[LedgerEntry]) -> None:
        requests = [{"PutRequest": {"Item": self._item(e)}} for e in entries]
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

    def record_unsendable(self, entries: Sequence[LedgerEntry]) -> None:
        for entry in entries:
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=self._item(entry),
                    ConditionExpression="attribute_not_exists(idempotency_key) OR #s IN (:r, :u)",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={
                        ":r": {"S": Status.REJECTED.value},
                        ":u": {"S": Status.UNDELIVERABLE.value},
                    },
                )
            except ClientError as exc:
                if not is_conditional_failure(exc):
                    raise

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
        expression = (
            "ADD sources :source SET kind = :kind, updated_at = :now, expires_at = :expires, "
            "first_seen = if_not_exists(first_seen, :now)"
        )
        values: dict[str, Any] = {
            ":source": {"SS": [seen.source]},
            ":kind": {"S": "payment"},
            ":now": {"S": now.isoformat()},
            ":expires": {"N": str(int(now.timestamp()) + self._ttl_seconds)},
        }
        if seen.payer is not None:
            # One write when this source's number is the best so far (the usual case), two when not.
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression=expression
                    + ", payer = :payer, payer_rank = :rank, payer_masked = :masked",
                    ConditionExpression="attribute_not_exists(payer_rank) OR payer_rank < :rank",
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
            TableName=self._table, Key=key, UpdateExpression=expression, ExpressionAttributeValues=values
        )

    def best_payers(self, references: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in chunked(sorted(set(references)), 100):
            pending: dict[str, Any] = {
                self._table: {
                    "Keys": [
                        {"idempotency_key": {"S": ref}, "recipient_ref": {"S": PAYMENT_RECORD}}
                        for ref in chunk
                    ],
                    "ProjectionExpression": "idempotency_key, payer",
                }
            }
            for attempt in range(8):
                answer = self._client.batch_get_item(RequestItems=pending)
                for item in answer.get("Responses", {}).get(self._table, []):
                    if "payer" in item:
                        found[item["idempotency_key"]["S"]] = item["payer"]["S"]
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
            values: dict[str, Any] = {
                ":status": {"S": update.status.value},
                ":ds": {"S": update.delivery_status},
                ":rank": {"N": str(update.rank)},
                ":now": {"S": datetime.now().astimezone().isoformat()},
            }
            expression = (
                "SET #status = :status, delivery_status = :ds, delivery_rank = :rank, updated_at = :now"
            )
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
                    ConditionExpression="attribute_not_exists(delivery_rank) OR delivery_rank < :rank",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=values,
                )
                outcome = ReportOutcome.APPLIED
            except ClientError as exc:
                if not is_conditional_failure(exc):
                    raise
        return outcome


def _entry(item: dict[str, Any]) -> LedgerEntry:
    data = {k: _deserializer.deserialize(v) for k, v in item.items()}

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
        provider_code=number("provider_code"),
        reason=data.get("reason"),
        attempts=number("attempts"),
        delivery_status=data.get("delivery_status"),
        text=data.get("text"),
        updated_at=datetime.fromisoformat(data["updated_at"]),
    )
