"""What the ledger holds about one person, and how it is erased (`tuma.ports.PersonalLedger`): every
message to the person's number (both refs), the payments they made, the held sends addressed to them.

Used by `tuma privacy export|erase` with the operator's credentials, never by a function.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.adapters.dynamodb import every_item, python_item
from tuma.adapters.dynamodb_agenda import DynamoDBAgenda
from tuma.adapters.dynamodb_personal import ERASED, ERASED_RANK, INTERNAL, plain
from tuma.adapters.ledger_table import DUE_CHECKS, DUE_SENDS, PAYMENT_RECORD, RECIPIENT_INDEX, LedgerTable
from tuma.adapters.ledger_table import key as ledger_key
from tuma.ports import PersonalLedger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from tuma.models.personal import Subject


@translates_aws_errors
class LedgerPersonalRecords(PersonalLedger):
    """Messages (entries), payments (`#payment` records) and scheduled sends about a person."""

    name = "ledger"

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table
        self._agenda = DynamoDBAgenda(client, table)
        self._ledger = LedgerTable(client, table)

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
                entry = {k: plain(v) for k, v in python_item(item).items() if k not in INTERNAL}
                rows.append({"kind": "message", **entry})
        for key, item in self._payments(subject):
            payment = python_item(item)
            rows.append(
                {
                    "kind": "payment",
                    "reference": key,
                    "payer": payment.get("payer_masked"),
                    **{
                        name: plain(payment[name])
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
        counts["messages"] += self._anonymise_all(subject.messages, now)
        # An entry the reconciler moved to its keyed ref meanwhile (dynamodb_ledger_walks) is found again.
        counts["messages"] += self._anonymise_all(self.messages_of(subject), now)
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

    def _anonymise_all(self, messages: Iterable[tuple[str, str]], now: str) -> int:
        count = 0
        for key, ref in messages:
            entry = self._get(key, ref)
            if entry is not None:
                self._anonymise(entry, now)
                count += 1
        return count

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
        if "provider_message_id" in item:
            # A late delivery report still finds the entry, under its new ref.
            actions.append({"Put": {"TableName": self._table, "Item": self._ledger.sent_item(item, new_ref)}})
        actions += [
            {"Put": {"TableName": self._table, "Item": new_item}},
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": {"idempotency_key": {"S": key}, "recipient_ref": {"S": old_ref}},
                }
            },
        ]
        self._ledger.note_refs([(key, new_ref)])
        self._client.transact_write_items(TransactItems=actions)
        self._ledger.forget_recipient(key, old_ref)
