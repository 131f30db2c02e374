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

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.adapters.dynamodb import every_item, is_conditional_failure, python_item
from tuma.adapters.dynamodb_claims import claim_id
from tuma.models.privacy import ERASED_RECIPIENT, ERASED_WATCH, KEPT_AFTER_ERASURE, message_digest
from tuma.ports import AuditLog, PersonalRecords

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from tuma.models.personal import Subject

ERASED = ERASED_RECIPIENT
# A payer rank no source reaches: a callback repeated after the erasure cannot write a number back.
ERASED_RANK = 99
# What an entry keeps for the person's own eyes in an export; the rest is Tuma's bookkeeping.
INTERNAL = {"recipient_ref", "check_sk", "day", "expires_at", "delivery_rank"}
AUDIT_PREFIX = "audit#privacy#"


def plain(value: Any) -> Any:
    """A DynamoDB value as JSON can carry it (numbers as text: amounts are never floats)."""
    if isinstance(value, set):
        return sorted(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, int | str | bool) or value is None:
        return value
    return str(value)


@translates_aws_errors
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


@translates_aws_errors
class StatePersonalRecords(PersonalRecords):
    """The guards' per-number hourly counters in the state table (they expire within a day anyway)."""

    name = "state"

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def _counters(self, subject: Subject) -> list[str]:
        # Named by the keyed hash (tuma.services.guards.rate_ref); by the plain refs before that.
        from tuma.security.number_keys import rate_ref

        prefixes = [f"rate#{ref}#" for ref in (rate_ref(subject.number_key), *subject.refs)]
        return [
            item["name"]["S"]
            for item in every_item(
                self._client.scan,
                {
                    "TableName": self._table,
                    "ProjectionExpression": "#n",
                    "FilterExpression": " OR ".join(f"begins_with(#n, :p{i})" for i in range(len(prefixes))),
                    "ExpressionAttributeNames": {"#n": "name"},
                    "ExpressionAttributeValues": {f":p{i}": {"S": p} for i, p in enumerate(prefixes)},
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


@translates_aws_errors
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
            {"kind": "suppression", "scope": name.removeprefix("suppressed_"), **plain(record[name])}
            for name in sorted(record)
            if name.startswith("suppressed_")
        ]
        if "consent" in record:
            rows.append({"kind": "consent", **plain(record["consent"])})
        if "erased_at" in record:
            rows.append(
                {
                    "kind": "erasure",
                    "at": record["erased_at"],
                    "why": "the data was erased at the person's request; messages queued before it are not "
                    f"sent (kept {ERASED_WATCH.days} days, or with the objection above)",
                }
            )
        return rows

    def erase(self, subject: Subject) -> dict[str, int]:
        """The consent and the masked number go; an objection (a suppression) stays, as the keyed hash
        and its scope only, so that it is still honoured; the erasure itself is marked, with digests of
        the person's messages, so that a copy still on a queue is not sent (the sender's screen)."""
        key = {"number_key": {"S": subject.number_key}}
        item = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item", {})
        now = datetime.now(UTC)
        scopes = sorted(name for name in item if name.startswith("suppressed_"))
        names = {"#consent": "consent", "#masked": "masked"}
        values: dict[str, Any] = {":at": {"S": now.isoformat()}}
        sets = ["erased_at = :at"]
        for i, name in enumerate(scopes):
            kept = {"reason": {"S": KEPT_AFTER_ERASURE}}
            kept |= {k: v for k, v in item[name]["M"].items() if k in ("source", "at")}
            names[f"#s{i}"], values[f":s{i}"] = name, {"M": kept}
            sets.append(f"#s{i} = :s{i}")
        removed = ["#consent", "#masked"]
        if scopes:
            removed.append("expires_at")  # an objection is kept for as long as the business runs Tuma
        else:
            sets.append("expires_at = :expires")
            values[":expires"] = {"N": str(int((now + ERASED_WATCH).timestamp()))}
        expression = f"SET {', '.join(sets)} REMOVE {', '.join(removed)}"
        digests = sorted({message_digest(message) for message, _ in subject.messages})
        if digests:
            expression += " ADD erased_messages :messages"
            values[":messages"] = {"SS": digests}
        self._client.update_item(
            TableName=self._table,
            Key=key,
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        return {"objections kept without the number": len(scopes), "consents": int("consent" in item)}


@translates_aws_errors
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
                **{k: (subject.masked if k in holding else plain(v)) for k, v in python_item(item).items()},
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


@translates_aws_errors
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
