"""The ledger table's layout, in one place: its keys and indexes, Tuma's own records beside the
messages' entries, how an entry is stored and read back, and the access the ledger
(`dynamodb_ledger`), the agenda (`dynamodb_agenda`) and the operators' views (`dynamodb_ledger_views`)
share.

Key: (`idempotency_key`, `recipient_ref`). A recipient's entry has the recipient's ref; Tuma's own
records have a ref starting with `#`. What is due later lives in two partitions of the same table,
sorted by when it is due: `#due-dlr` (report checks) and `#due-send` (scheduled messages).

Two records let the internet-facing function find entries by key alone, without a Query (which
would also reach the indexes: every number, every day): a message's recipients (`#recipients#NN`,
its refs spread over `RECIPIENT_SHARDS` records so that 10,000 recipients stay under DynamoDB's item
size) and, per message the provider took, its id (`#sent#<provider>#<id>`, naming key and ref) for a
delivery report.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tuma.adapters.dynamodb import attribute, batch_get, batch_write, python_item
from tuma.formatting.clock import EAT, now_utc
from tuma.models.ledger import PRIMARY, DueCheck, LedgerEntry, Status

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RECIPIENT_INDEX = "by-recipient"
DAY_INDEX = "by-day"
# The payment's own record beside its recipients' entries: which sources saw it, its best payer number.
PAYMENT_RECORD = "#payment"
# M-Pesa's latest Transaction Status answer about a receipt number (tuma daraja status, the console).
STATUS_ANSWER_RECORD = "#status-answer"
# The Transaction Status request Tuma made about a receipt: its ids, when it expires, when answered.
STATUS_QUERY_RECORD = "#status-query"
# What the API accepted (POST /payments, /alerts), before the sender writes its recipients' entries.
ACCEPTED_RECORD = "#accepted"
# A scheduled message's own record: SCHEDULED until released or cancelled.
SCHEDULE_RECORD = "#scheduled"
# The console's resend links: the original lists `#resent#<resend key>`, the resend `#resend-of`.
RESENT_PREFIX = "#resent#"
RESEND_OF = "#resend-of"
DUE_CHECKS = "#due-dlr"
DUE_SENDS = "#due-send"
# A message's recipients: each ref in one of these records (a string set), chosen by its hash.
RECIPIENTS_PREFIX = "#recipients#"
RECIPIENT_SHARDS = 16
# The entry a provider's message id names: key `#sent#<provider>#<id>`, ref `#sent`.
SENT_PREFIX = "#sent#"
SENT_RECORD = "#sent"
# How many (key, ref) pairs a container remembers having noted, so that a message's later writes
# (SENT after QUEUED, then its report) cost no second update.
NOTED_MEMORY = 20_000


def key(idempotency_key: str, recipient_ref: str) -> dict[str, Any]:
    return {"idempotency_key": {"S": idempotency_key}, "recipient_ref": {"S": recipient_ref}}


def recipients_sk(ref: str) -> str:
    return _shard_sk(zlib.crc32(ref.encode()) % RECIPIENT_SHARDS)


def _shard_sk(shard: int) -> str:
    return f"{RECIPIENTS_PREFIX}{shard:02d}"


def sent_key(provider: str, message_id: str) -> dict[str, Any]:
    return key(f"{SENT_PREFIX}{provider}#{message_id}", SENT_RECORD)


def is_own_record(item: Mapping[str, Any]) -> bool:
    """Tuma's own record (payment, schedule, due work...), not a recipient's entry."""
    return str(item["recipient_ref"]["S"]).startswith("#")


def due_sk(due_at: datetime, *names: str) -> str:
    """A sort key in a due partition: the due time first (seconds, fixed width), then what is due."""
    return "#".join((f"#{int(due_at.timestamp()):012d}", *names))


def due_at_of(sk: str) -> datetime:
    return datetime.fromtimestamp(int(sk.split("#")[1]), UTC)


def due_by(now: datetime) -> str:
    """The highest sort key due at `now` (`~` sorts after every name)."""
    return f"#{int(now.timestamp()):012d}~"


def check_sk(check: DueCheck) -> str:
    return due_sk(check.due_at, check.idempotency_key, check.recipient_ref)


def send_sk(idempotency_key: str, due_at: datetime) -> str:
    return due_sk(due_at, idempotency_key)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def entry_of(item: Mapping[str, Any]) -> LedgerEntry:
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


def check_of(item: Mapping[str, Any]) -> DueCheck:
    return DueCheck(
        item["key"]["S"],
        item["ref"]["S"],
        item["provider_message_id"]["S"],
        datetime.fromisoformat(item["sent_at"]["S"]),
        due_at_of(item["recipient_ref"]["S"]),
        int(item["attempts"]["N"]),
        item.get("provider", {}).get("S", PRIMARY),
    )


class LedgerTable:
    """The table, its time to live and its clock: what the ledger's adapters share."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        ttl_days: int = 180,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.client = client
        self.name = table
        self.ttl_seconds = ttl_days * 86400
        self.now = clock
        self._noted: set[tuple[str, str]] = set()

    def expires(self, at: datetime) -> int:
        return int(at.timestamp()) + self.ttl_seconds

    def entry_item(self, entry: LedgerEntry) -> dict[str, Any]:
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
            "queued_at": iso(entry.queued_at),
            "sent_at": iso(entry.sent_at),
            "final_at": iso(entry.final_at),
            "final_via": entry.final_via,
            "scheduled_for": iso(entry.scheduled_for),
            # The entry names its report check, so that a final report can end it.
            "check_sk": (
                due_sk(entry.check_due_at, entry.idempotency_key, entry.recipient_ref)
                if entry.check_due_at
                else None
            ),
            "expires_at": self.expires(entry.updated_at),
        }
        # An index key cannot be NULL or empty; absent attributes simply leave the item out of the index.
        return {k: attribute(v) for k, v in raw.items() if v is not None and v != ""}

    def entry_items(self, entries: Iterable[LedgerEntry]) -> list[dict[str, Any]]:
        """The entries' items and, for each the provider took, the record its message id names."""
        items = []
        for entry in entries:
            items.append(self.entry_item(entry))
            if entry.provider_message_id:
                items.append(self.sent_item(entry, entry.recipient_ref))
        return items

    def sent_item(self, entry: LedgerEntry | Mapping[str, Any], ref: str) -> dict[str, Any]:
        """What a delivery report for the entry's message id looks up: its key and ref."""
        if isinstance(entry, LedgerEntry):
            provider, message_id = entry.provider or PRIMARY, str(entry.provider_message_id)
            idempotency_key, updated = entry.idempotency_key, entry.updated_at
        else:
            provider = entry.get("provider", {}).get("S", PRIMARY)
            message_id, idempotency_key = entry["provider_message_id"]["S"], entry["idempotency_key"]["S"]
            updated = datetime.fromisoformat(entry["updated_at"]["S"])
        return {
            **sent_key(provider, message_id),
            "key": {"S": idempotency_key},
            "ref": {"S": ref},
            "expires_at": {"N": str(self.expires(updated))},
        }

    def note_recipients(self, entries: Iterable[LedgerEntry]) -> None:
        """Each entry's ref joins its message's recipients, before the entry is written: a ref whose
        entry is missing is skipped by readers, an entry missing from its recipients would be lost
        to them. ADD to a set commutes, so writers racing on one message lose nothing."""
        self.note_refs((entry.idempotency_key, entry.recipient_ref) for entry in entries)

    def note_refs(self, pairs: Iterable[tuple[str, str]]) -> None:
        shards: dict[tuple[str, str], set[str]] = {}
        for idempotency_key, ref in pairs:
            if (idempotency_key, ref) not in self._noted:
                shards.setdefault((idempotency_key, recipients_sk(ref)), set()).add(ref)
        if not shards:
            return  # all noted before by this container: a message's later writes cost nothing
        if len(self._noted) > NOTED_MEMORY:
            self._noted.clear()
        expires = {"N": str(self.expires(self.now()))}
        for (idempotency_key, sk), refs in shards.items():
            self.client.update_item(
                TableName=self.name,
                Key=key(idempotency_key, sk),
                UpdateExpression="ADD refs :refs SET expires_at = :expires",
                ExpressionAttributeValues={":refs": {"SS": sorted(refs)}, ":expires": expires},
            )
            self._noted.update((idempotency_key, ref) for ref in refs)

    def forget_recipient(self, idempotency_key: str, ref: str) -> None:
        self.client.update_item(
            TableName=self.name,
            Key=key(idempotency_key, recipients_sk(ref)),
            UpdateExpression="DELETE refs :refs",
            ExpressionAttributeValues={":refs": {"SS": [ref]}},
        )
        self._noted.discard((idempotency_key, ref))

    def recipients(self, idempotency_key: str) -> list[str]:
        shards = [key(idempotency_key, _shard_sk(n)) for n in range(RECIPIENT_SHARDS)]
        found = batch_get(self.client, self.name, shards, what="a message's recipients", consistent=True)
        return sorted(ref for item in found for ref in item.get("refs", {}).get("SS", []))

    def by_key(self, idempotency_key: str) -> list[LedgerEntry]:
        """A message's entries from its recipients, by key alone (no Query)."""
        refs = self.recipients(idempotency_key)
        items = batch_get(
            self.client,
            self.name,
            [key(idempotency_key, r) for r in refs],
            what="a message's entries",
            consistent=True,
        )
        return sorted((entry_of(item) for item in items), key=lambda e: e.recipient_ref)

    def check_item(self, check: DueCheck) -> dict[str, Any]:
        return {
            **key(DUE_CHECKS, check_sk(check)),
            "key": {"S": check.idempotency_key},
            "ref": {"S": check.recipient_ref},
            "provider_message_id": {"S": check.provider_message_id},
            "provider": {"S": check.provider},
            "sent_at": {"S": check.sent_at.isoformat()},
            "attempts": {"N": str(check.attempts)},
            "expires_at": {"N": str(self.expires(check.due_at))},
        }

    def put_all(self, items: Sequence[dict[str, Any]], what: str = "ledger write") -> None:
        batch_write(self.client, self.name, [{"PutRequest": {"Item": item}} for item in items], what=what)

    def delete(self, partition: str, sk: str) -> None:
        self.client.delete_item(TableName=self.name, Key=key(partition, sk))

    def get(self, idempotency_key: str, ref: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.name, Key=key(idempotency_key, ref), ConsistentRead=True)
        return item.get("Item")

    def entries_of(self, idempotency_key: str, *, query: bool) -> list[LedgerEntry]:
        """A message's entries: by one Query where the role allows it (every entry, those written
        before 0.3.0 too), otherwise by key alone."""
        return self.entries(idempotency_key) if query else self.by_key(idempotency_key)

    def entries(self, idempotency_key: str) -> list[LedgerEntry]:
        answer = self.client.query(
            TableName=self.name,
            KeyConditionExpression="idempotency_key = :k",
            ExpressionAttributeValues={":k": {"S": idempotency_key}},
            ConsistentRead=True,
        )
        return [entry_of(item) for item in answer.get("Items", []) if not is_own_record(item)]

    def due(self, partition: str, now: datetime, limit: int) -> list[dict[str, Any]]:
        answer = self.client.query(
            TableName=self.name,
            KeyConditionExpression="idempotency_key = :p AND recipient_ref <= :now",
            ExpressionAttributeValues={":p": {"S": partition}, ":now": {"S": due_by(now)}},
            ConsistentRead=True,
            Limit=limit,
        )
        return list(answer.get("Items", []))


class OnLedgerTable:
    """The base of an adapter on the ledger's table: the table, its client and name."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        ttl_days: int = 180,
        clock: Callable[[], datetime] = now_utc,
        *,
        may_query: bool = True,
    ) -> None:
        self._table = LedgerTable(client, table, ttl_days, clock)
        self._client = client
        self._name = table
        self._may_query = may_query
