"""The privacy table: one item per number (its keyed hash), with its suppressions and its consent.

One item per number, so that the sender's screen is one BatchGetItem per batch of up to 100
recipients, and an erasure is one delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.adapters.dynamodb import batch_get, is_conditional_failure
from tuma.formatting.clock import parse_time
from tuma.models.privacy import Scope, SuppressionSource
from tuma.models.privacy_records import Consent, Erased, PrivacyRecord, Suppression
from tuma.ports import PrivacyStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_ALL_ATTRIBUTES = [f"suppressed_{scope.value}" for scope in Scope] + ["consent"]


def _attribute(scope: Scope) -> str:
    return f"suppressed_{scope.value}"


@translates_aws_errors
class DynamoDBPrivacyStore(PrivacyStore):
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def read(self, keys: Sequence[str]) -> dict[str, PrivacyRecord]:
        # An unread entry could be a suppression: batch_get raises rather than let the screen guess
        # that it is absent.
        wanted = [{"number_key": {"S": key}} for key in dict.fromkeys(keys)]
        records = [
            _record(item) for item in batch_get(self._client, self._table, wanted, what="privacy table")
        ]
        return {record.key: record for record in records}

    def suppress(self, key: str, masked: str, suppression: Suppression) -> bool:
        entry = {
            "M": {
                "reason": {"S": suppression.reason[:500]},
                "source": {"S": suppression.source[:64]},
                "at": {"S": suppression.at.isoformat()},
            }
        }
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"number_key": {"S": key}},
                UpdateExpression="SET masked = :masked, #entry = :entry, updated_at = :now",
                # The first entry of a scope stands: a repeated report does not move its date.
                ConditionExpression="attribute_not_exists(#entry)",
                ExpressionAttributeNames={"#entry": _attribute(suppression.scope)},
                ExpressionAttributeValues={
                    ":masked": {"S": masked},
                    ":entry": entry,
                    ":now": {"S": _now()},
                },
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def unsuppress(self, key: str, scopes: Sequence[Scope]) -> list[Scope]:
        names = {f"#s{i}": _attribute(scope) for i, scope in enumerate(scopes)}
        old = self._remove(key, names)
        return [scope for scope in scopes if _attribute(scope) in old]

    def consent(self, key: str, masked: str, consent: Consent) -> None:
        self._client.update_item(
            TableName=self._table,
            Key={"number_key": {"S": key}},
            UpdateExpression="SET masked = :masked, consent = :consent, updated_at = :now",
            ExpressionAttributeValues={
                ":masked": {"S": masked},
                ":consent": {
                    "M": {
                        "source": {"S": consent.source[:64]},
                        "wording": {"S": consent.wording[:500]},
                        "at": {"S": consent.at.isoformat()},
                    }
                },
                ":now": {"S": _now()},
            },
        )

    def withdraw(self, key: str) -> bool:
        return "consent" in self._remove(key, {"#c": "consent"})

    def everything(self, limit: int = 1000) -> list[PrivacyRecord]:
        records: list[PrivacyRecord] = []
        arguments: dict[str, Any] = {"TableName": self._table}
        while len(records) < limit:
            answer = self._client.scan(**arguments)
            records.extend(_record(item) for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                break
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        records.sort(key=_latest, reverse=True)
        return records[:limit]

    def _remove(self, key: str, names: dict[str, str]) -> dict[str, Any]:
        """Remove attributes; what they were. An item left with nothing is deleted."""
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key={"number_key": {"S": key}},
                UpdateExpression="REMOVE " + ", ".join(names),
                # Without it, removing from a number that has no item would create an empty one.
                ConditionExpression="attribute_exists(number_key)",
                ExpressionAttributeNames=names,
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return {}
            raise
        old: dict[str, Any] = answer.get("Attributes", {})
        if not any(a in old and a not in names.values() for a in _ALL_ATTRIBUTES):
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key={"number_key": {"S": key}},
                    # Unless something was added since.
                    ConditionExpression=" AND ".join(f"attribute_not_exists({a})" for a in _ALL_ATTRIBUTES),
                )
            except ClientError as exc:
                if not is_conditional_failure(exc):
                    raise
        return {a: v for a, v in old.items() if a in names.values()}


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _record(item: dict[str, Any]) -> PrivacyRecord:
    suppressions = {}
    for scope in Scope:
        entry = item.get(_attribute(scope), {}).get("M")
        if entry:
            suppressions[scope] = Suppression(
                scope,
                entry.get("reason", {}).get("S", ""),
                SuppressionSource(entry.get("source", {}).get("S", SuppressionSource.OPERATOR)),
                parse_time(entry.get("at", {}).get("S")),
            )
    consent = None
    given = item.get("consent", {}).get("M")
    if given:
        consent = Consent(
            given.get("source", {}).get("S", ""),
            given.get("wording", {}).get("S", ""),
            parse_time(given.get("at", {}).get("S")),
        )
    erased = None
    if "erased_at" in item:
        erased = Erased(
            parse_time(item["erased_at"]["S"]), frozenset(item.get("erased_messages", {}).get("SS", []))
        )
    return PrivacyRecord(
        item["number_key"]["S"], item.get("masked", {}).get("S", "-"), suppressions, consent, erased
    )


def _latest(record: PrivacyRecord) -> datetime:
    moments = [s.at for s in record.suppressions.values()]
    if record.consent is not None:
        moments.append(record.consent.at)
    return max(moments, default=datetime.min.replace(tzinfo=UTC))
