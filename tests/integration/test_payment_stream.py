"""functions/payment_stream with real DynamoDB stream records from moto."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.integration.conftest import Stack, load_function
from tuma_cli.local.events import dynamodb_stream_event

pytestmark = pytest.mark.integration

_cursor: dict[str, str] = {}


def stream_event(stack: Stack) -> dict[str, Any]:
    """Every record written since the previous call, as Lambda would deliver it."""
    streams = stack.client("dynamodbstreams")
    arn = stack.topology.resources["PaymentsTable"]["StreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    key = f"{arn}/{shard}"
    if key in _cursor:
        iterator = streams.get_shard_iterator(
            StreamArn=arn,
            ShardId=shard,
            ShardIteratorType="AFTER_SEQUENCE_NUMBER",
            SequenceNumber=_cursor[key],
        )["ShardIterator"]
    else:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    if records:
        _cursor[key] = records[-1]["dynamodb"]["SequenceNumber"]
    return dynamodb_stream_event(records, arn)


@pytest.fixture(autouse=True)
def _fresh_cursor() -> None:
    _cursor.clear()


def _put(stack: Stack, **item: Any) -> None:
    attributes = {k: ({"N": str(v)} if isinstance(v, int | Decimal) else {"S": v}) for k, v in item.items()}
    stack.client("dynamodb").put_item(TableName=stack.topology.ref("PaymentsTable"), Item=attributes)


def _queued(stack: Stack) -> list[dict[str, Any]]:
    return stack.queued(delete=False)


def test_only_a_change_to_completed_yields_a_receipt(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = load_function(stack, "payment_stream", monkeypatch)
    first = {
        "payment_id": "p1",
        "amount": 1500,
        "phone": "0712345678",
        "reference": "SFK0000001",
        "name": "Wanjiku",
        "account": "INV-1",
        "paid_at": "2026-11-24T10:15:00+03:00",
    }
    _put(stack, **first, status="PENDING")
    _put(
        stack,
        payment_id="p2",
        status="COMPLETED",
        amount=Decimal("99.5"),
        phone="+254 722 000 000",
        reference="SFK0000002",
    )
    _put(stack, **first, status="COMPLETED")  # PENDING -> COMPLETED
    _put(
        stack, **first | {"name": "Wanjiku W."}, status="COMPLETED"
    )  # COMPLETED -> COMPLETED: no second receipt
    _put(stack, payment_id="p3", status="FAILED", amount=10, phone="0712345678", reference="SFK0000003")
    stack.client("dynamodb").delete_item(
        TableName=stack.topology.ref("PaymentsTable"), Key={"payment_id": {"S": "p2"}}
    )
    event = stream_event(stack)
    assert [r["eventName"] for r in event["Records"]] == [
        "INSERT",
        "INSERT",
        "MODIFY",
        "MODIFY",
        "INSERT",
        "REMOVE",
    ]
    assert stream(event) == {"batchItemFailures": []}
    queued = sorted(_queued(stack), key=lambda m: m["idempotency_key"])
    assert [(m["idempotency_key"], m["to"], m["data"]["amount"]) for m in queued] == [
        ("SFK0000001", ["254712345678"], "1500"),
        ("SFK0000002", ["254722000000"], "99.5"),
    ]
    assert queued[0]["data"]["paid_at"] == "2026-11-24T10:15:00+03:00"
    assert queued[0]["source"] == "payments-table"


def test_a_completed_payment_that_cannot_make_a_receipt_is_recorded_not_retried(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = load_function(stack, "payment_stream", monkeypatch)
    _put(stack, payment_id="p9", status="COMPLETED", amount=10, phone="0712345678")  # no reference
    _put(
        stack, payment_id="p10", status="COMPLETED", amount="lots", phone="0712345678", reference="SFK0000010"
    )
    _put(
        stack, payment_id="p11", status="COMPLETED", amount=10, phone="2547 ***** 126", reference="SFK0000011"
    )
    _put(stack, payment_id="p12", status="COMPLETED", amount=10, phone="0712345678", reference="SFK0000012")
    assert stream(stream_event(stack)) == {"batchItemFailures": []}
    assert [m["idempotency_key"] for m in _queued(stack)] == ["SFK0000012"]
    ledger = {e["idempotency_key"]: e for e in stack.ledger()}
    assert ledger["payment:p9"]["status"] == "REJECTED" and "reference" in ledger["payment:p9"]["reason"]
    assert ledger["SFK0000010"]["status"] == "REJECTED" and "amount" in ledger["SFK0000010"]["reason"]
    assert ledger["SFK0000011"]["status"] == "UNDELIVERABLE"


def test_attribute_names_of_an_existing_table_are_configurable(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = load_function(
        stack,
        "payment_stream",
        monkeypatch,
        PAYMENTS_ATTRIBUTES=json.dumps({"status": "state", "phone": "msisdn", "reference": "mpesa_ref"}),
        PAYMENTS_COMPLETED_STATUS="PAID",
    )
    _put(stack, payment_id="x1", state="PAID", amount=300, msisdn="0733123456", mpesa_ref="SFK0000020")
    _put(stack, payment_id="x2", status="COMPLETED", amount=300, phone="0733123456", reference="SFK0000021")
    assert stream(stream_event(stack)) == {"batchItemFailures": []}
    assert [(m["idempotency_key"], m["to"]) for m in _queued(stack)] == [("SFK0000020", ["254733123456"])]


def test_the_sam_sample_stream_event_yields_nothing(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = load_function(stack, "payment_stream", monkeypatch)
    sample = json.loads((ROOT / "tests/fixtures/aws/sam-cli/dynamodb_update.json").read_text())
    assert stream(sample) == {"batchItemFailures": []}
    assert _queued(stack) == [] and stack.ledger() == []


def _put_raw(stack: Stack, item: dict[str, Any]) -> None:
    stack.client("dynamodb").put_item(TableName=stack.topology.ref("PaymentsTable"), Item=item)


def test_every_attribute_type_reaches_the_function_and_every_record_gets_an_outcome(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = load_function(stack, "payment_stream", monkeypatch)
    base = {"status": {"S": "COMPLETED"}, "amount": {"N": "250"}}
    _put_raw(
        stack,
        base
        | {
            "payment_id": {"S": "b1"},
            "reference": {"S": "SFKB000001"},
            "phone": {"B": b"0712345678"},
            "photo": {"B": b"\x89PNG\x00\xff"},
        },
    )
    _put_raw(
        stack,
        base
        | {
            "payment_id": {"S": "b2"},
            "reference": {"S": "SFKB000002"},
            "phone": {"SS": ["0712345678", "0722000000"]},
        },
    )
    _put_raw(
        stack,
        base
        | {
            "payment_id": {"S": "b3"},
            "reference": {"S": "SFKB000003"},
            "phone": {"NULL": True},
            "tags": {"L": [{"S": "a"}, {"N": "1"}, {"BS": [b"x"]}]},
            "meta": {"M": {"n": {"NS": ["1", "2"]}}},
        },
    )
    _put_raw(
        stack,
        base
        | {
            "payment_id": {"S": "b4"},
            "reference": {"S": "sfkb000004 "},
            "phone": {"S": "0712345678"},
            "amount": {"S": "1,500.00"},
        },
    )
    _put_raw(
        stack,
        base
        | {
            "payment_id": {"S": "b5"},
            "reference": {"S": "SFKB000005"},
            "phone": {"S": "0712345678"},
            "amount": {"S": "1.500,00"},
        },
    )
    event = stream_event(stack)
    json.dumps(event)  # as Lambda's JSON event: binaries in base64, every other type as written
    image = event["Records"][0]["dynamodb"]["NewImage"]
    assert image["photo"] == {"B": "iVBORwD/"}
    assert stream(event) == {"batchItemFailures": []}
    queued = {m["idempotency_key"]: m for m in _queued(stack)}
    assert sorted(queued) == ["SFKB000004"]
    assert queued["SFKB000004"]["data"]["amount"] == "1500.00"
    ledger = {e["idempotency_key"]: e for e in stack.ledger()}
    # Lambda hands a binary attribute over as base64 text: not a number anyone can be sent to.
    assert ledger["SFKB000001"]["status"] == "UNDELIVERABLE"
    assert ledger["SFKB000002"]["status"] == "REJECTED" and "phone" in ledger["SFKB000002"]["reason"]
    assert ledger["SFKB000003"]["status"] == "UNDELIVERABLE"
    assert ledger["SFKB000005"]["status"] == "REJECTED" and "European" in ledger["SFKB000005"]["reason"]


def test_records_lambda_would_deliver_but_no_table_of_ours_writes_still_get_an_outcome(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = load_function(stack, "payment_stream", monkeypatch)

    def record(n: int, name: str, **change: Any) -> dict[str, Any]:
        return {
            "eventID": f"e{n}",
            "eventName": name,
            "eventSource": "aws:dynamodb",
            "dynamodb": {"SequenceNumber": str(n), **change},
        }

    completed = {
        "payment_id": {"S": "k1"},
        "status": {"S": "COMPLETED"},
        "amount": {"N": "10"},
        "reference": {"S": "SFKK000001"},
        "phone": {"S": "0712345678"},
    }
    event = {
        "Records": [
            record(1, "INSERT", Keys={"payment_id": {"S": "k0"}}),  # a KEYS_ONLY stream
            record(2, "UPSERT", NewImage=completed),  # an event name Powertools does not know
            record(3, "INSERT", NewImage=completed | {"amount": {"N": "not-a-number"}}),
            record(4, "INSERT", NewImage=completed | {"reference": {"S": "SFKK000004"}}),
        ]
    }
    assert stream(event) == {"batchItemFailures": []}
    assert [m["idempotency_key"] for m in _queued(stack)] == ["SFKK000004"]
    reasons = {e["idempotency_key"]: e["reason"] for e in stack.ledger()}
    assert "NEW_AND_OLD_IMAGES" in reasons["payment:k0"]
    assert "UPSERT" in reasons["SFKK000001"]
    assert "malformed" in reasons["payment:e3"]
