"""Access and erasure for one person against the moto server: what each table's adapter finds and
changes, beyond what the end-to-end test reaches (the business's own tables, a pending delivery
check, a second run)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tuma.adapters import dynamodb_personal as personal
from tuma.adapters import dynamodb_personal_ledger as personal_ledger
from tuma.adapters.dynamodb_agenda import DynamoDBAgenda
from tuma.adapters.dynamodb_ledger import DynamoDBLedger
from tuma.formatting.phones import parse_recipient
from tuma.models.ledger import DueCheck, LedgerEntry, Status
from tuma.security.number_keys import in_use
from tuma.services.personal_data import PersonalData

from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

NUMBER = "0722 000 111"
REF = parse_recipient(NUMBER).ref


def _table(stack: Stack, name: str, key: str) -> str:
    stack.client("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _service(stack: Stack) -> tuple[PersonalData, personal.DynamoDBAuditLog]:
    client = stack.client("dynamodb")
    customers = _table(stack, "customers", "account")
    payments = _table(stack, "payments", "payment_id")
    client.put_item(TableName=customers, Item={"account": {"S": "ADM-1"}, "phone": {"S": "+254722000111"}})
    client.put_item(TableName=customers, Item={"account": {"S": "ADM-2"}, "phone": {"S": "0733000222"}})
    client.put_item(
        TableName=payments,
        Item={
            "payment_id": {"S": "p-1"},
            "phone": {"N": "254722000111"},
            "name": {"S": "Achieng"},
            "amount": {"S": "750.00"},
            "status": {"S": "COMPLETED"},
        },
    )
    audit = personal.DynamoDBAuditLog(client, stack.topology.ref("StateTable"))
    stores = [
        personal.DirectoryPersonalRecords(client, customers, "customers", ("account",), delete_rows=True),
        personal.DirectoryPersonalRecords(
            client, payments, "payments", ("payment_id",), delete_rows=False, also=("name",)
        ),
    ]
    ledger = personal_ledger.LedgerPersonalRecords(client, stack.topology.ref("LedgerTable"))
    return PersonalData(ledger, stores, in_use(), audit), audit  # the keys REF was named with


def test_the_business_tables_lose_the_number_and_a_pending_check_follows_its_entry(stack: Stack) -> None:
    ledger = DynamoDBLedger(stack.client("dynamodb"), stack.topology.ref("LedgerTable"))
    agenda = DynamoDBAgenda(stack.client("dynamodb"), stack.topology.ref("LedgerTable"))
    sent_at = datetime.now(UTC)
    due = sent_at + timedelta(minutes=5)
    ledger.write(
        [
            LedgerEntry(
                "hello-1",
                REF,
                "2547*****111",
                Status.SENT,
                text="Hello Achieng",
                parts=1,
                provider_message_id="m-1",
                sent_at=sent_at,
                check_due_at=due,
            )
        ]
    )
    agenda.add_checks([DueCheck("hello-1", REF, "m-1", sent_at, due)])
    service, audit = _service(stack)
    subject = service.subject(NUMBER)
    exported = service.export(subject, "REQ-1")
    assert [r["phone"] for r in exported["records"]["customers"]] == ["2547*****111"]
    assert exported["records"]["payments"][0]["name"] == "Achieng"
    assert exported["records"]["ledger"][0]["text"] == "Hello Achieng"

    erasure = service.erase(subject, "REQ-1")
    assert erasure.changed == {
        "customers": {"rows deleted": 1},
        "payments": {"rows stripped": 1},
        "ledger": {"messages": 1},
    }
    client = stack.client("dynamodb")
    assert [i["account"]["S"] for i in client.scan(TableName="customers")["Items"]] == ["ADM-2"]
    [row] = client.scan(TableName="payments")["Items"]
    assert set(row) == {"payment_id", "amount", "status"}
    [check] = agenda.due_checks(due + timedelta(seconds=1), 10)
    [entry] = ledger.get("hello-1")
    assert check.recipient_ref == entry.recipient_ref and entry.recipient_ref.startswith("x:")
    assert (entry.status, entry.recipient, entry.text, entry.parts) == (Status.SENT, "erased", None, 1)
    # The report that comes later still finds its message, and ends its check.
    assert ledger.expire(check, "no report") is True

    again = service.erase(service.subject("+254 722 000 111"), "REQ-1")
    assert again.total == 0
    assert service.export(service.subject(NUMBER))["records"] == {
        "ledger": [],
        "customers": [],
        "payments": [],
    }
    actions = [(row["action"], row["reference"]) for row in audit.entries()]
    assert sorted(actions) == [("erase", "REQ-1"), ("erase", "REQ-1"), ("export", ""), ("export", "REQ-1")]


def test_a_malformed_number_changes_nothing(stack: Stack) -> None:
    service, audit = _service(stack)
    for bad in ("0722 000 11", "2547*****111", "not a number"):
        with pytest.raises(ValueError, match=r"^number: "):
            service.subject(bad)
    assert audit.entries() == []
    assert len(stack.client("dynamodb").scan(TableName="customers")["Items"]) == 2
