"""Every way in ends as one SMS with its delivery status recorded, through the whole local topology."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from tests.conftest import shared_fixture
from tests.e2e.conftest import Local

pytestmark = pytest.mark.e2e


def _delivered(local: Local, key: str) -> list[dict[str, Any]]:
    """The entries of `key` once every one carries the network's delivery report."""
    entries = local.ledger(key)
    reported = entries and all(
        e["status"] in ("DELIVERED", "FAILED") and e.get("delivery_status") for e in entries
    )
    return entries if reported else []


def _sms_for(local: Local, message_id: str) -> list[dict[str, Any]]:
    return [p for p in local.phones() if p["messageid"] == message_id]


def test_ready_line_names_everything_a_caller_needs(local: Local) -> None:
    ready = local.ready
    assert ready["webhook_base_url"].startswith("http://127.0.0.1:")
    assert len(ready["webhook_token"]) >= 16 and len(ready["api_key"]["secret"]) >= 32
    # Each caller that cannot sign has a token of its own, none the stack's first one.
    tokens = {ready["daraja_token"], ready["provider_token"], ready["webhook_token"]}
    assert len(tokens) == 3 and all(len(token) >= 32 for token in tokens - {ready["webhook_token"]})
    assert ready["daraja_callbacks_from"] == "127.0.0.2"
    assert {"OutboxQueue", "OutboxDeadLetterQueue"} <= set(ready["queues"])
    assert {"LedgerTable", "IdempotencyTable", "PaymentsTable"} <= set(ready["tables"])
    attributes = local.aws("sqs").get_queue_attributes(
        QueueUrl=ready["queues"]["OutboxQueue"], AttributeNames=["RedrivePolicy", "VisibilityTimeout"]
    )
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    assert (
        redrive["deadLetterTargetArn"].endswith("OutboxDeadLetterQueue") and redrive["maxReceiveCount"] == 8
    )
    assert attributes["Attributes"]["VisibilityTimeout"] == "360"  # both straight from template.yaml


def test_a_c2b_confirmation_ends_as_one_delivered_sms(local: Local) -> None:
    body = shared_fixture("mpesa/c2b_confirmation_request_legacy_docs.json") | {"TransID": "E2EC2B0001"}
    answer = local.post("/payments/c2b/confirmation/{token}", body)
    assert answer.status_code == 200 and answer.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    [entry] = local.wait_for(
        lambda: _delivered(local, "E2EC2B0001"), what="the C2B receipt's delivery report"
    )
    assert (entry["status"], entry["delivery_status"]) == ("DELIVERED", "DeliveredToTerminal")
    [sms] = _sms_for(local, entry["provider_message_id"])
    assert sms["mobile"] == "254708374149"
    assert sms["message"] == (
        "E2EC2B0001 confirmed. We have received KES 10.00 from John Doe for account xyz on "
        "27/07/2017 10:42. Thank you."
    )
    local.post("/payments/c2b/confirmation/{token}", body)  # Daraja retries the callback
    time.sleep(3)
    assert len([p for p in local.phones() if p["message"].startswith("E2EC2B0001")]) == 1


def test_an_stk_callback_ends_as_one_delivered_sms(local: Local) -> None:
    callback = copy.deepcopy(shared_fixture("mpesa/stk_callback_success_official.json"))
    items = callback["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    for item in items:
        if item["Name"] == "MpesaReceiptNumber":
            item["Value"] = "E2ESTK0001"
        if item["Name"] == "PhoneNumber":
            item["Value"] = 254712345401  # the simulator reports AbsentSubscriber for this ending
    assert local.post("/payments/stk/{token}", callback).status_code == 200
    [entry] = local.wait_for(
        lambda: _delivered(local, "E2ESTK0001"), what="the STK receipt's delivery report"
    )
    assert (entry["status"], entry["delivery_status"]) == ("FAILED", "AbsentSubscriber")
    [sms] = _sms_for(local, entry["provider_message_id"])
    assert sms["message"] == "E2ESTK0001 confirmed. We have received KES 1.00 on 19/12/2019 10:21. Thank you."


def test_a_payments_insert_ends_as_one_delivered_sms(local: Local) -> None:
    dynamodb = local.aws("dynamodb")
    table = local.ready["tables"]["PaymentsTable"]
    item = {
        "payment_id": {"S": "e2e-1"},
        "status": {"S": "PENDING"},
        "amount": {"N": "2500"},
        "phone": {"S": "0722 123 456"},
        "reference": {"S": "E2EPAY0001"},
        "name": {"S": "Akinyi"},
    }
    dynamodb.put_item(TableName=table, Item=item)
    dynamodb.put_item(TableName=table, Item=item | {"status": {"S": "COMPLETED"}})
    dynamodb.put_item(TableName=table, Item=item | {"status": {"S": "COMPLETED"}, "name": {"S": "Akinyi O."}})
    [entry] = local.wait_for(lambda: _delivered(local, "E2EPAY0001"), what="the payment's delivery report")
    assert entry["status"] == "DELIVERED"
    [sms] = _sms_for(local, entry["provider_message_id"])
    assert sms["message"] == "E2EPAY0001 confirmed. We have received KES 2,500.00 from Akinyi. Thank you."
    assert len([p for p in local.phones() if p["message"].startswith("E2EPAY0001")]) == 1


def test_an_alert_reaches_the_alert_recipients_with_delivery_status(local: Local) -> None:
    answer = local.post_signed("/alerts", {"id": "e2e-disk", "title": "Disk full", "host": "db-1"})
    assert answer.status_code == 202
    entries = local.wait_for(
        lambda: len(_delivered(local, "alert:e2e-disk")) == 2 and _delivered(local, "alert:e2e-disk"),
        what="both alert deliveries",
    )
    phones = sorted(p["mobile"] for e in entries for p in _sms_for(local, e["provider_message_id"]))
    assert phones == ["254722000111", "254733000222"]
    assert {e["delivery_status"] for e in entries} == {"DeliveredToTerminal"}


def test_the_scheduled_balance_check_records_the_metric_and_alerts_once(local: Local) -> None:
    def credit_metric() -> list[dict[str, Any]]:
        answer = local.aws("cloudwatch").list_metrics(Namespace="Tuma", MetricName="ProviderCredit")
        metrics: list[dict[str, Any]] = answer["Metrics"]
        return metrics

    assert local.wait_for(credit_metric, what="the ProviderCredit metric")
    alerts = local.wait_for(
        lambda: [p for p in local.phones() if p["message"].startswith("Tuma: SMS credit is low")],
        what="the low-credit alert",
    )
    assert sorted(a["mobile"] for a in alerts) == ["254722000111", "254733000222"]


def test_a_provider_outage_delays_messages_but_loses_none(local: Local) -> None:
    local.simulator("/_sandbox/faults", "POST", json={"rate": 1.0, "kinds": ["5xx", "drop", "1005"]})
    queue = local.ready["queues"]["OutboxQueue"]
    keys = [f"E2EOUT{i:04d}" for i in range(6)]
    for i, key in enumerate(keys):
        local.aws("sqs").send_message(
            QueueUrl=queue,
            MessageBody=json.dumps(
                {"idempotency_key": key, "to": [f"0711 000 {i:03d}"], "text": f"Outage test {key}"}
            ),
        )
    local.wait_for(
        lambda: all(any(e["status"] == "RETRYING" for e in local.ledger(k)) for k in keys),
        what="every message to fail once during the outage",
    )
    assert not [p for p in local.phones() if p["message"].startswith("Outage test")]
    local.simulator("/_sandbox/faults", "DELETE")  # the provider is back
    local.wait_for(
        lambda: all(_delivered(local, k) for k in keys),
        timeout=90,
        what="every postponed message to go out after the outage",
    )
    received = sorted(p["message"] for p in local.phones() if p["message"].startswith("Outage test"))
    assert received == sorted(f"Outage test {k}" for k in keys)  # each exactly once
    dead = local.aws("sqs").get_queue_attributes(
        QueueUrl=local.ready["queues"]["OutboxDeadLetterQueue"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )
    assert dead["Attributes"]["ApproximateNumberOfMessages"] == "0"
