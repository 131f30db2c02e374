"""The ledger read by key alone (moto), as the internet-facing function reads it: a message's entries
from its `#recipients` records, a delivery report's entry from its `#sent` record, never a Query."""

from __future__ import annotations

import hashlib
import json
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tuma.adapters.dynamodb_agenda import DynamoDBAgenda
from tuma.adapters.dynamodb_ledger import DynamoDBLedger
from tuma.adapters.ledger_table import RECIPIENT_SHARDS, LedgerTable, key
from tuma.models.ledger import DeliveryUpdate, DueCheck, LedgerEntry, ReportOutcome, Status

from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def _refuse_queries(client: Any) -> list[str]:
    """The client fails any Query or Scan, as the webhooks function's role would."""
    seen: list[str] = []

    def refuse(model: Any, **_: Any) -> None:
        seen.append(model.name)
        raise AssertionError(f"{model.name} on the ledger")

    client.meta.events.register("before-call.dynamodb.Query", refuse)
    client.meta.events.register("before-call.dynamodb.Scan", refuse)
    return seen


def _entries(idempotency_key: str, n: int, status: Status, **fields: Any) -> list[LedgerEntry]:
    return [
        LedgerEntry(
            idempotency_key, f"k:{i:064x}", f"2547*****{i % 1000:03d}", status, updated_at=NOW, **fields
        )
        for i in range(n)
    ]


def test_a_messages_entries_and_its_reports_are_found_by_key_alone(stack: Stack) -> None:
    client, table = stack.client("dynamodb"), stack.topology.ref("LedgerTable")
    sender = DynamoDBLedger(client, table, clock=lambda: NOW)
    queued = _entries("fees-term-1", 120, Status.QUEUED)
    sender.write(queued)
    sent = [
        LedgerEntry(
            e.idempotency_key,
            e.recipient_ref,
            e.recipient,
            Status.SENT,
            provider_message_id=f"m{i}",
            provider="secondary" if i == 7 else None,
            updated_at=NOW,
            check_due_at=NOW + timedelta(minutes=2),
        )
        for i, e in enumerate(queued)
    ]
    sender.write(sent)
    agenda = DynamoDBAgenda(client, table)
    agenda.add_checks(
        [
            DueCheck(e.idempotency_key, e.recipient_ref, f"m{i}", NOW, NOW + timedelta(minutes=2))
            for i, e in enumerate(sent)
        ]
    )

    webhooks_client = stack.client("dynamodb")
    refused = _refuse_queries(webhooks_client)
    webhooks = DynamoDBLedger(webhooks_client, table, clock=lambda: NOW, may_query=False)
    story = webhooks.get("fees-term-1")
    assert [(e.recipient_ref, e.status) for e in story] == [(e.recipient_ref, Status.SENT) for e in queued]

    delivered = DeliveryUpdate("m3", "DeliveredToTerminal", Status.DELIVERED, rank=4, kind="delivered")
    assert webhooks.apply_delivery(delivered) is ReportOutcome.APPLIED
    assert webhooks.apply_delivery(delivered) is ReportOutcome.STALE  # the same report again
    # A final report ends the message's report check: the provider is not asked about it again.
    waiting = {c.recipient_ref for c in agenda.due_checks(NOW + timedelta(days=1), 500)}
    assert len(waiting) == 119 and queued[3].recipient_ref not in waiting
    # Message ids are each provider's own: m7 went by the secondary, m3 by the primary.
    assert webhooks.apply_delivery(DeliveryUpdate("m7", "x", Status.DELIVERED, 4)) is ReportOutcome.UNKNOWN
    secondary = DeliveryUpdate("m7", "DeliveredToTerminal", Status.DELIVERED, 4, provider="secondary")
    assert webhooks.apply_delivery(secondary) is ReportOutcome.APPLIED
    assert webhooks.recipients_of("m3", "primary") == [(queued[3].recipient_ref, queued[3].recipient)]
    assert webhooks.recipients_of("m3", "secondary") == []
    statuses = {e.recipient_ref: e.status for e in webhooks.get("fees-term-1")}
    assert statuses[queued[3].recipient_ref] is statuses[queued[7].recipient_ref] is Status.DELIVERED
    assert refused == []


def test_writers_racing_on_one_message_lose_no_recipient_and_a_message_from_before_needs_a_query(
    stack: Stack,
) -> None:
    client, table = stack.client("dynamodb"), stack.topology.ref("LedgerTable")
    # Two containers (each with its own memory of what it noted) writing the same message's recipients.
    first, second = DynamoDBLedger(client, table), DynamoDBLedger(client, table)
    entries = _entries("alert:disk", 40, Status.QUEUED)
    first.write(entries[:25])
    second.write(entries[15:])
    assert len(DynamoDBLedger(client, table, may_query=False).get("alert:disk")) == 40

    # Written by 0.2.0: the entry alone, no record of its recipients.
    old = _entries("LGR219G3EY", 1, Status.DELIVERED)[0]
    client.put_item(TableName=table, Item=LedgerTable(client, table).entry_item(old))
    assert DynamoDBLedger(client, table, may_query=False).get("LGR219G3EY") == []
    assert [e.recipient_ref for e in DynamoDBLedger(client, table).get("LGR219G3EY")] == [old.recipient_ref]


def test_ten_thousand_recipients_fit_the_records_that_name_them() -> None:
    """MAX_RECIPIENTS refs spread over the shards: the fullest stays far under DynamoDB's 400 KB item."""
    from tuma.models.outbox import MAX_RECIPIENTS

    per_shard = [0] * RECIPIENT_SHARDS
    for i in range(MAX_RECIPIENTS):
        ref = "k:" + hashlib.sha256(str(i).encode()).hexdigest()
        per_shard[zlib.crc32(ref.encode()) % RECIPIENT_SHARDS] += 1
    fullest = max(per_shard) * (len("k:") + 64 + 1)
    assert fullest < 100_000, per_shard


def test_the_recipients_records_expire_with_the_entries(stack: Stack) -> None:
    client, table = stack.client("dynamodb"), stack.topology.ref("LedgerTable")
    DynamoDBLedger(client, table, ttl_days=180, clock=lambda: NOW).write(_entries("otp-9", 1, Status.QUEUED))
    items = client.scan(TableName=table)["Items"]
    [record] = [i for i in items if i["recipient_ref"]["S"].startswith("#recipients#")]
    assert record["idempotency_key"] == key("otp-9", "x")["idempotency_key"]
    assert int(record["expires_at"]["N"]) == int((NOW + timedelta(days=180)).timestamp())


def test_messages_from_before_the_upgrade_are_found_by_key_once_the_reconciler_noted_them(
    stack: Stack,
) -> None:
    from tuma.adapters.dynamodb_ledger_walks import RecipientsBackfill

    client, table = stack.client("dynamodb"), stack.topology.ref("LedgerTable")
    layout = LedgerTable(client, table, clock=lambda: NOW)
    # 0.2.0 wrote entries alone, over the ledger's whole life (and a payment's own record beside them).
    old = [
        LedgerEntry(
            f"R{i:03d}", f"n:{i:024x}", "2547*****001", Status.DELIVERED, updated_at=NOW - timedelta(days=d)
        )
        for i, d in enumerate([179, 120, 120, 30, 0, 0, 0])
    ]
    for entry in old:
        client.put_item(TableName=table, Item=layout.entry_item(entry))
    client.put_item(TableName=table, Item={**key("R000", "#payment"), "day": {"S": "2026-06-12"}})
    refused = stack.client("dynamodb")
    _refuse_queries(refused)
    by_key_only = DynamoDBLedger(refused, table, may_query=False)
    assert by_key_only.get("R001") == []

    backfill = RecipientsBackfill(client, table, 180, pages_per_run=60, page_size=2, clock=lambda: NOW)
    runs = [backfill.run() for _ in range(6)]  # 181 days at most 60 pages a run: 4 runs
    assert sum(runs) == len(old) and runs[4:] == [0, 0] and len([n for n in runs if n]) >= 2
    for entry in old:
        [found] = by_key_only.get(entry.idempotency_key)
        assert found.recipient_ref == entry.recipient_ref
    assert not [i for i in layout.recipients("R000") if i.startswith("#")]

    calls: list[str] = []
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    assert backfill.run() == 0 and calls == ["GetItem"]  # done: one read a run, nothing else


def test_a_message_sent_before_the_upgrade_still_gets_its_polled_report(stack: Stack) -> None:
    """No `#sent` record for it: the reconciler's report check names its entry, and that is enough."""
    from tuma.adapters.dynamodb_agenda import DynamoDBAgenda
    from tuma.models.ledger import DueCheck
    from tuma.models.provider_answers import DeliveryReport
    from tuma.services.reconciler import Reconciler

    from tests.unit.fakes import ListMetrics, MemoryOutbox

    client, table = stack.client("dynamodb"), stack.topology.ref("LedgerTable")
    layout = LedgerTable(client, table, clock=lambda: NOW)
    sent = LedgerEntry(
        "SFK1A2B3C4",
        "n:" + "ab" * 12,
        "2547*****678",
        Status.SENT,
        provider_message_id="8290842",
        updated_at=NOW,
        check_due_at=NOW + timedelta(minutes=2),
    )
    client.put_item(TableName=table, Item=layout.entry_item(sent))  # as 0.2.0 wrote it: no #sent
    agenda = DynamoDBAgenda(client, table)
    agenda.add_checks(
        [DueCheck(sent.idempotency_key, sent.recipient_ref, "8290842", NOW, NOW + timedelta(minutes=2))]
    )
    ledger = DynamoDBLedger(client, table)
    report = DeliveryReport.model_validate(
        {
            "response-code": 200,
            "message-id": "8290842",
            "delivery-status": 32,
            "delivery-description": "DeliveredToTerminal",
        }
    )
    reconciler = Reconciler(ledger, agenda, {"primary": lambda _: report}, MemoryOutbox(), ListMetrics())
    assert reconciler.run(NOW + timedelta(minutes=3)).final_by_polling == 1
    [entry] = ledger.get("SFK1A2B3C4")
    assert (entry.status, entry.final_via) == (Status.DELIVERED, "polling")
    assert agenda.due_checks(NOW + timedelta(days=1), 10) == []  # ended, not dropped unapplied

    # A report for an entry that is gone writes nothing back.
    gone = DeliveryUpdate(
        "1", "DeliveredToTerminal", Status.DELIVERED, 4, kind="delivered", entry=("gone", "k:0")
    )
    assert ledger.apply_delivery(gone) is ReportOutcome.STALE
    assert client.get_item(TableName=table, Key=key("gone", "k:0")).get("Item") is None


def test_entries_named_by_an_unkeyed_digest_move_to_their_keyed_ref_once_final(stack: Stack) -> None:
    from tuma.adapters.dynamodb_ledger_walks import LegacyRefsRekey, RecipientsBackfill
    from tuma.security.number_keys import NumberKeys

    client, table = stack.client("dynamodb"), stack.topology.ref("LedgerTable")
    keys = NumberKeys(lambda: b"k" * 48)
    digest = hashlib.sha256(b"254712345678").hexdigest()[:24]
    clock = [NOW]
    layout = LedgerTable(client, table, clock=lambda: clock[0])

    def old(key_: str, ref: str, status: Status, days_ago: int) -> LedgerEntry:
        at = NOW - timedelta(days=days_ago)
        return LedgerEntry(key_, ref, "2547*****678", status, text="Asante Wanjiku", updated_at=at)

    delivered, in_flight, hashed = (
        old("R1", f"n:{digest}", Status.DELIVERED, 10),
        old("R2", f"n:{digest}", Status.SENT, 1),
        old("R3", f"h:{digest}", Status.FAILED, 100),
    )
    for entry in (delivered, in_flight, hashed):
        client.put_item(TableName=table, Item=layout.entry_item(entry))
    RecipientsBackfill(client, table, pages_per_run=200, clock=lambda: clock[0]).run()
    rekey = LegacyRefsRekey(client, table, keys, pages_per_run=200, clock=lambda: clock[0])

    assert rekey.run() == 2  # the final ones; the one in flight waits
    by_key = DynamoDBLedger(client, table, may_query=False)
    [r1] = by_key.get("R1")
    assert r1.recipient_ref == f"k:{keys.of_digest(digest)}" and r1.text == "Asante Wanjiku"
    assert [e.recipient_ref for e in by_key.get("R3")] == [f"kh:{keys.of_digest(digest)}"]
    assert [e.recipient_ref for e in by_key.get("R2")] == [in_flight.recipient_ref]
    assert rekey.run() == 0  # the next walk, for what waited, begins a day later

    client.put_item(
        TableName=table, Item=layout.entry_item(old("R2", in_flight.recipient_ref, Status.DELIVERED, 0))
    )
    clock[0] = NOW + timedelta(days=1, minutes=1)
    assert rekey.run() == 1
    assert rekey.run() == 0
    pages = client.get_paginator("scan").paginate(TableName=table)
    stored = json.dumps([item for page in pages for item in page["Items"]])
    assert digest not in stored  # neither an entry nor a recipients record names it any more
    checkpoint = client.get_item(TableName=table, Key=key("#legacy-refs-rekey", "#checkpoint"))["Item"]
    assert "done_at" in checkpoint
