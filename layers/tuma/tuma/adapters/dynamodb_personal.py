"""What each DynamoDB table holds about one person, and how it is erased (`tuma.ports.PersonalRecords`).

Used by `tuma privacy export|erase` with the operator's credentials, never by a function: a scan of
a business's directory is an operator's occasional act, not part of a send.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from tuma.adapters.dynamodb import every_item, is_conditional_failure, python_item
from tuma.adapters.dynamodb_agenda import DynamoDBAgenda
from tuma.adapters.dynamodb_claims import claim_id
from tuma.adapters.ledger_table import DUE_CHECKS, DUE_SENDS, PAYMENT_RECORD, RECIPIENT_INDEX
from tuma.adapters.ledger_table import key as ledger_key
from tuma.ports import AuditLog, PersonalLedger, PersonalRecords

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from tuma.models.personal import Subject

ERASED = "erased"
# A payer rank no source reaches: a callback repeated after the erasure cannot write a number back.
ERASED_RANK = 99
# What an entry keeps for the person's own eyes in an export; the rest is Tuma's bookkeeping.
_INTERNAL = {"recipient_ref", "check_sk", "day", "expires_at", "delivery_rank"}
AUDIT_PREFIX = "audit#privacy#"


def _plain(value: Any) -> Any:
    """A DynamoDB value as JSON can carry it (numbers as text: amounts are never floats)."""
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, int | str | bool) or value is None:
        return value
    return str(value)


class LedgerPersonalRecords(PersonalLedger):
    """Messages (entries), payments (`#payment` records) and scheduled sends about a person."""

    name = "ledger"

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table
        self._agenda = DynamoDBAgenda(client, table)

    def messages_of(self, subject: Subject) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for ref in subject.refs:
            request = {
                "TableName": self._table,
                "IndexName": RECIPIENT_INDEX,
                "KeyConditionExpression": "recipient_ref = :r",
                "ExpressionAttributeValues": {":r": {"S": ref}},
            }
            found += [
                (i["idempotency_key"]["S"], i["recipient_ref"]["S"])
                for i in every_item(self._client.query, request)
            ]
        return sorted(set(found))

    def _get(self, idempotency_key: str, ref: str) -> dict[str, Any] | None:
        item = self._client.get_item(
            TableName=self._table, Key=ledger_key(idempotency_key, ref), ConsistentRead=True
        ).get("Item")
        return dict(item) if item else None

    def _payments(self, subject: Subject) -> list[tuple[str, dict[str, Any]]]:
        """The payment records of the person's messages whose payer is the person."""
        found = []
        for reference in sorted({reference for reference, _ in subject.messages}):
            item = self._get(reference, PAYMENT_RECORD)
            if item is not None and "payer" in item and subject.matches(item["payer"]["S"]):
                found.append((reference, item))
        return found

    def _scheduled(self, subject: Subject) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Held sends (their item and outbox body) with the person among their recipients."""
        found = []
        request = {
            "TableName": self._table,
            "KeyConditionExpression": "idempotency_key = :p",
            "ExpressionAttributeValues": {":p": {"S": DUE_SENDS}},
            "ConsistentRead": True,
        }
        for item in every_item(self._client.query, request):
            body = json.loads(item["body"]["S"])
            if any(subject.matches(to) for to in body.get("to", [])):
                found.append((item, body))
        return found

    def about(self, subject: Subject) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for key, ref in subject.messages:
            item = self._get(key, ref)
            if item is not None:
                entry = {k: _plain(v) for k, v in python_item(item).items() if k not in _INTERNAL}
                rows.append({"kind": "message", **entry})
        for key, item in self._payments(subject):
            payment = python_item(item)
            rows.append(
                {
                    "kind": "payment",
                    "reference": key,
                    "payer": payment.get("payer_masked"),
                    **{
                        name: _plain(payment[name])
                        for name in (
                            "amount",
                            "currency",
                            "account",
                            "short_code",
                            "paid_at",
                            "sources",
                            "first_seen",
                        )
                        if name in payment
                    },
                }
            )
        for item, body in self._scheduled(subject):
            rows.append(
                {
                    "kind": "scheduled",
                    "idempotency_key": item["key"]["S"],
                    "due_at": datetime.fromtimestamp(
                        int(item["recipient_ref"]["S"].split("#")[1]), UTC
                    ).isoformat(),
                    "template": body.get("template"),
                    "data": body.get("data"),
                    "text": body.get("text"),
                }
            )
        return rows

    def erase(self, subject: Subject) -> dict[str, int]:
        counts = {"scheduled sends cancelled": 0, "scheduled sends edited": 0, "messages": 0, "payments": 0}
        now = datetime.now(UTC).isoformat()
        # Held sends first: cancelling one turns its SCHEDULED entries CANCELLED before they are re-keyed.
        for item, body in self._scheduled(subject):
            others = [to for to in body.get("to", []) if not subject.matches(to)]
            if not others:
                self._agenda.cancel(item["key"]["S"])
                counts["scheduled sends cancelled"] += 1
                continue
            self._client.put_item(
                TableName=self._table,
                Item={**item, "body": {"S": json.dumps({**body, "to": others}, separators=(",", ":"))}},
            )
            counts["scheduled sends edited"] += 1
        for key, ref in subject.messages:
            entry = self._get(key, ref)
            if entry is not None:
                self._anonymise(entry, now)
                counts["messages"] += 1
        for key, _ in self._payments(subject):
            names = {"#account": "account"}
            self._client.update_item(
                TableName=self._table,
                Key={"idempotency_key": {"S": key}, "recipient_ref": {"S": PAYMENT_RECORD}},
                UpdateExpression=(
                    "REMOVE payer SET payer_masked = :erased, payer_rank = :rank, erased_at = :now, "
                    "#account = :erased"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":erased": {"S": ERASED},
                    ":rank": {"N": str(ERASED_RANK)},
                    ":now": {"S": now},
                },
            )
            counts["payments"] += 1
        return counts

    def _anonymise(self, item: Mapping[str, Any], now: str) -> None:
        """The entry under a fresh ref that leads to no one, without its number or text; its pending
        delivery-report check follows it. One transaction: never both or neither."""
        key, old_ref = item["idempotency_key"]["S"], item["recipient_ref"]["S"]
        new_ref = f"x:{secrets.token_hex(12)}"
        kept = {k: v for k, v in item.items() if k not in ("text", "recipient", "recipient_ref", "check_sk")}
        new_item = {
            **kept,
            "recipient_ref": {"S": new_ref},
            "recipient": {"S": ERASED},
            "erased_at": {"S": now},
        }
        if item.get("status", {}).get("S") == "SCHEDULED":
            # Its held send no longer names them (erase took them out of it): it will never go.
            new_item |= {
                "status": {"S": "CANCELLED"},
                "reason": {"S": "the recipient's data was erased"},
                "final_at": {"S": now},
                "final_via": {"S": "erasure"},
            }
        actions: list[Any] = []
        if "check_sk" in item:
            old_sk = item["check_sk"]["S"]
            check = self._get(DUE_CHECKS, old_sk)
            if check is not None:
                new_sk = old_sk[: -len(old_ref)] + new_ref
                new_item["check_sk"] = {"S": new_sk}
                actions += [
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {**check, "recipient_ref": {"S": new_sk}, "ref": {"S": new_ref}},
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": {"idempotency_key": {"S": DUE_CHECKS}, "recipient_ref": {"S": old_sk}},
                        }
                    },
                ]
        actions += [
            {"Put": {"TableName": self._table, "Item": new_item}},
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": {"idempotency_key": {"S": key}, "recipient_ref": {"S": old_ref}},
                }
            },
        ]
        self._client.transact_write_items(TransactItems=actions)


class ClaimsPersonalRecords(PersonalRecords):
    """The send claims of the person's messages: named by a digest of (key, ref), so they hold no
    number, but they lead to one; a receipt's claim (`#event`) names only the payment and stays."""

    name = "claims"

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def about(self, subject: Subject) -> list[dict[str, Any]]:
        return []  # nothing a person could read: a status and an expiry, under a digest

    def erase(self, subject: Subject) -> dict[str, int]:
        deleted = 0
        for claim in subject.messages:
            answer = self._client.delete_item(
                TableName=self._table, Key={"id": {"S": claim_id(claim)}}, ReturnValues="ALL_OLD"
            )
            deleted += "Attributes" in answer
        return {"claims": deleted}


class StatePersonalRecords(PersonalRecords):
    """The guards' per-number hourly counters in the state table (they expire within a day anyway)."""

    name = "state"

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def _counters(self, subject: Subject) -> list[str]:
        prefixes = [f"rate#{ref}#" for ref in subject.refs]
        return [
            item["name"]["S"]
            for item in every_item(
                self._client.scan,
                {
                    "TableName": self._table,
                    "ProjectionExpression": "#n",
                    "FilterExpression": "begins_with(#n, :a) OR begins_with(#n, :b)",
                    "ExpressionAttributeNames": {"#n": "name"},
                    "ExpressionAttributeValues": {":a": {"S": prefixes[0]}, ":b": {"S": prefixes[1]}},
                },
            )
        ]

    def about(self, subject: Subject) -> list[dict[str, Any]]:
        return [{"kind": "rate counter", "hour": name.rsplit("#", 1)[-1]} for name in self._counters(subject)]

    def erase(self, subject: Subject) -> dict[str, int]:
        names = self._counters(subject)
        for name in names:
            self._client.delete_item(TableName=self._table, Key={"name": {"S": name}})
        return {"rate counters": len(names)}


class PrivacyPersonalRecords(PersonalRecords):
    """The person's suppressions and consent (the privacy table, by their keyed hash)."""

    name = "privacy"

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def about(self, subject: Subject) -> list[dict[str, Any]]:
        item = self._client.get_item(
            TableName=self._table, Key={"number_key": {"S": subject.number_key}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return []
        record = python_item(item)
        rows: list[dict[str, Any]] = [
            {"kind": "suppression", "scope": name.removeprefix("suppressed_"), **_plain(record[name])}
            for name in sorted(record)
            if name.startswith("suppressed_")
        ]
        if "consent" in record:
            rows.append({"kind": "consent", **_plain(record["consent"])})
        return rows

    def erase(self, subject: Subject) -> dict[str, int]:
        answer = self._client.delete_item(
            TableName=self._table, Key={"number_key": {"S": subject.number_key}}, ReturnValues="ALL_OLD"
        )
        old = answer.get("Attributes", {})
        return {
            "suppressions": sum(name.startswith("suppressed_") for name in old),
            "consents": int("consent" in old),
        }


class DirectoryPersonalRecords(PersonalRecords):
    """A business's own table that carries numbers in attributes of its choosing (the customers
    directory, the payments table): rows are found by any attribute holding the person's number.
    `delete_rows`: a row that exists only to map something to the number goes whole (a directory
    entry); otherwise the number and `also` (a name) are removed and the row stays (a payment)."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        name: str,
        keys: tuple[str, ...],
        *,
        delete_rows: bool,
        also: tuple[str, ...] = (),
    ) -> None:
        self._client = client
        self._table = table
        self.name = name
        self._keys = keys
        self._delete_rows = delete_rows
        self._also = also

    def _rows(self, subject: Subject) -> list[tuple[dict[str, Any], list[str]]]:
        found = []
        for item in every_item(self._client.scan, {"TableName": self._table}):
            values = python_item(item)
            holding = [name for name, value in values.items() if subject.matches(value)]
            if holding:
                found.append((item, holding))
        return found

    def about(self, subject: Subject) -> list[dict[str, Any]]:
        return [
            {
                "kind": "row",
                **{k: (subject.masked if k in holding else _plain(v)) for k, v in python_item(item).items()},
            }
            for item, holding in self._rows(subject)
        ]

    def erase(self, subject: Subject) -> dict[str, int]:
        rows = self._rows(subject)
        for item, holding in rows:
            key = {name: item[name] for name in self._keys}
            if self._delete_rows or set(holding) & set(self._keys):
                self._client.delete_item(TableName=self._table, Key=key)
                continue
            removed = [name for name in (*holding, *self._also) if name in item]
            self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="REMOVE " + ", ".join(f"#a{i}" for i in range(len(removed))),
                ExpressionAttributeNames={f"#a{i}": name for i, name in enumerate(removed)},
            )
        return {"rows deleted" if self._delete_rows else "rows stripped": len(rows)}


class DynamoDBAuditLog(AuditLog):
    """Access and erasure requests, without the number, in the state table, kept (no expiry): the
    business's own accountability record."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def record(self, action: str, at: datetime, details: Mapping[str, Any]) -> None:
        stamp = at.astimezone(UTC).isoformat(timespec="seconds")
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "name": {"S": f"{AUDIT_PREFIX}{stamp}#{secrets.token_hex(4)}"},
                    "action": {"S": action},
                    "at": {"S": stamp},
                    "details": {"S": json.dumps(details, sort_keys=True)},
                },
                ConditionExpression="attribute_not_exists(#n)",
                ExpressionAttributeNames={"#n": "name"},
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise

    def entries(self) -> list[dict[str, Any]]:
        rows = [
            {"action": i["action"]["S"], "at": i["at"]["S"], **json.loads(i["details"]["S"])}
            for i in every_item(
                self._client.scan,
                {
                    "TableName": self._table,
                    "FilterExpression": "begins_with(#n, :p)",
                    "ExpressionAttributeNames": {"#n": "name"},
                    "ExpressionAttributeValues": {":p": {"S": AUDIT_PREFIX}},
                },
            )
        ]
        return sorted(rows, key=lambda row: row["at"], reverse=True)
