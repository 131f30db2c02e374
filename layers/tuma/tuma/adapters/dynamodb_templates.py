"""The template store in DynamoDB (`TemplatesTable`): every save a new version, any version current again.

    id = "current", sk = "template#<name>#<language>"   the text in use, its kind and version
    id = "current", sk = "routing"                      the routing rules in use, and their version
    id = "template#<name>#<language>", sk = "v000007"   each saved version, never changed
    id = "routing", sk = "v000003"                      each saved routing

Senders read everything current with one Query, cached for `cache_seconds`: an edit reaches the next
receipts within that time, and one batch renders with one snapshot.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.adapters.dynamodb import every_item
from tuma.models.templates import Catalog, Routing, StoredTemplate, parse_routing
from tuma.ports import TemplateStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CURRENT = "current"
ROUTING = "routing"


def _template_id(name: str, language: str) -> str:
    return f"template#{name}#{language}"


@translates_aws_errors
class DynamoDBTemplates(TemplateStore):
    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        cache_seconds: float = 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._table = table
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cached: Catalog | None = None
        self._read_at = 0.0

    # -- what senders read ----------------------------------------------------------------------

    def catalog(self) -> Catalog:
        if self._cached is None or self._clock() - self._read_at >= self._cache_seconds:
            self._cached = self._read_current()
            self._read_at = self._clock()
        return self._cached

    def _read_current(self) -> Catalog:
        templates: dict[tuple[str, str], StoredTemplate] = {}
        routing = Routing()
        for item in self._query(CURRENT):
            sk = item["sk"]["S"]
            if sk == ROUTING:
                routing = _routing(item)
            elif sk.startswith("template#"):
                _, name, language = sk.split("#", 2)
                templates[(name, language)] = _template(name, language, item)
        return Catalog(templates, routing)

    # -- what editors do ----------------------------------------------------------------------------

    def history(self, name: str, language: str) -> list[StoredTemplate]:
        return [
            _template(name, language, item)
            for item in self._query(_template_id(name, language), newest_first=True)
        ]

    def save(self, template: StoredTemplate) -> StoredTemplate:
        """A new version, made current in the same transaction; returns it with its number."""
        for _ in range(5):
            latest = self.history(template.name, template.language)[:1]
            version = (latest[0].version if latest else 0) + 1
            saved = StoredTemplate(
                template.name, template.language, template.kind, template.text, version, _now(), template.note
            )
            fields = {
                "kind": {"S": saved.kind},
                "text": {"S": saved.text},
                "version": {"N": str(version)},
                "saved_at": {"S": saved.saved_at or _now()},
            }
            if saved.note:
                fields["note"] = {"S": saved.note}
            if self._commit(
                _template_id(saved.name, saved.language),
                version,
                fields,
                f"template#{saved.name}#{saved.language}",
            ):
                return saved
        raise RuntimeError("the template was being saved by someone else at the same time: try again")

    def use(self, name: str, language: str, version: int) -> StoredTemplate:
        """Make an earlier version current again (a new version is not written)."""
        chosen = next((t for t in self.history(name, language) if t.version == version), None)
        if chosen is None:
            raise KeyError(f"{name} ({language}) has no version {version}")
        self._client.put_item(
            TableName=self._table,
            Item={
                "id": {"S": CURRENT},
                "sk": {"S": f"template#{name}#{language}"},
                "kind": {"S": chosen.kind},
                "text": {"S": chosen.text},
                "version": {"N": str(version)},
                "saved_at": {"S": chosen.saved_at or _now()},
            },
        )
        return chosen

    def routing_history(self) -> list[Routing]:
        return [_routing(item) for item in self._query(ROUTING, newest_first=True)]

    def save_routing(self, routing: Routing) -> Routing:
        for _ in range(5):
            latest = self.routing_history()[:1]
            version = (latest[0].version if latest else 0) + 1
            fields = {
                "rules": {"S": _rules_json(routing)},
                "version": {"N": str(version)},
                "saved_at": {"S": _now()},
            }
            if self._commit(ROUTING, version, fields, ROUTING):
                return Routing(routing.rules, version)
        raise RuntimeError("the routing was being saved by someone else at the same time: try again")

    def use_routing(self, version: int) -> Routing:
        chosen = next((r for r in self.routing_history() if r.version == version), None)
        if chosen is None:
            raise KeyError(f"the routing has no version {version}")
        self._client.put_item(
            TableName=self._table,
            Item={
                "id": {"S": CURRENT},
                "sk": {"S": ROUTING},
                "rules": {"S": _rules_json(chosen)},
                "version": {"N": str(version)},
                "saved_at": {"S": _now()},
            },
        )
        return chosen

    # -- plumbing -----------------------------------------------------------------------------------

    def _commit(self, history_id: str, version: int, fields: dict[str, Any], current_sk: str) -> bool:
        """Write the version (only if its number is free) and make it current, all or nothing."""
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {"id": {"S": history_id}, "sk": {"S": f"v{version:06d}"}, **fields},
                            "ConditionExpression": "attribute_not_exists(id)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {"id": {"S": CURRENT}, "sk": {"S": current_sk}, **fields},
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False  # another save took this number: read again and retry
            raise
        return True

    def _query(self, partition: str, newest_first: bool = False) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "id = :id",
            "ExpressionAttributeValues": {":id": {"S": partition}},
            "ScanIndexForward": not newest_first,
            "ConsistentRead": True,
        }
        return list(every_item(self._client.query, request))


def _template(name: str, language: str, item: dict[str, Any]) -> StoredTemplate:
    return StoredTemplate(
        name,
        language,
        item["kind"]["S"],
        item["text"]["S"],
        int(item["version"]["N"]),
        item.get("saved_at", {}).get("S"),
        item.get("note", {}).get("S"),
    )


def _routing(item: dict[str, Any]) -> Routing:
    return Routing(parse_routing(json.loads(item["rules"]["S"])).rules, int(item["version"]["N"]))


def _rules_json(routing: Routing) -> str:
    return json.dumps(
        [{k: v for k, v in vars(rule).items() if v is not None} for rule in routing.rules],
        separators=(",", ":"),
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
