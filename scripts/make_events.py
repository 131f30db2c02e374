"""Write events/: sample events for `sam local invoke -e` and for `tuma local demo`.

Each event is a sample rendered by `sam local generate-event` (tests/fixtures/aws/sam-cli/) with its
payload replaced by one of Tuma's: outbox messages, Daraja callbacks from the shared fixtures, and
so on. `--check` fails when events/ is not what this script would write.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAM = ROOT / "tests" / "fixtures" / "aws" / "sam-cli"
EVENTS = ROOT / "events"
OUTBOX_ARN = "arn:aws:sqs:us-east-1:123456789012:tuma-OutboxQueue"
MPESA = ROOT / "tests" / "fixtures" / "shared" / "mpesa"
PROVIDER = ROOT / "tests" / "fixtures" / "shared" / "provider"
# Placeholders: the path token and the HMAC signature belong to each deployment. `tuma local demo`
# replaces them; for `sam local invoke -e`, put your WEBHOOK_SECRET's path_token in the path (and
# sign the body as the README shows).
TOKEN = "PATH-TOKEN"  # noqa: S105 - a placeholder, replaced before use
DARAJA_RESOURCES = ("/payments/c2b/", "/payments/stk/", "/payments/status-results/")
SAFARICOM = "196.201.214.200"  # one of the template's SafaricomCallbackIps
UNSIGNED = "SIGN-WITH-AN-API-KEY (RFC 9421)"


def _sam(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAM / name).read_text())
    return loaded


def sqs(body: dict[str, Any], message_id: str) -> dict[str, Any]:
    event = _sam("sqs_receive_message.json")
    record = event["Records"][0]
    text = json.dumps(body, ensure_ascii=False)
    record.update(
        {
            "messageId": message_id,
            "body": text,
            "md5OfBody": hashlib.md5(text.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
            "eventSourceARN": OUTBOX_ARN,
        }
    )
    return event


OUTBOX = {
    "outbox_receipt.json": sqs(
        {
            "idempotency_key": "SFK1A2B3C4",
            "to": ["0712 345 678"],
            "template": "receipt",
            "data": {
                "reference": "SFK1A2B3C4",
                "amount": "1500.00",
                "name": "Wanjiku Kamau",
                "account": "INV-2041",
                "paid_at": "2026-11-24T10:15:00+03:00",
            },
            "language": "en",
            "source": "example",
        },
        "5f0a1c9e-0000-4000-8000-000000000001",
    ),
    "outbox_alert.json": sqs(
        {
            "idempotency_key": "alert-42",
            "to": ["0722000000"],
            "template": "alert",
            "data": {"title": "Disk full", "host": "db-1", "severity": "critical"},
            "language": "sw",
        },
        "5f0a1c9e-0000-4000-8000-000000000002",
    ),
    "outbox_otp.json": sqs(
        {
            "idempotency_key": "otp-991",
            "to": ["254733123456"],
            "text": "Your Tuma code is 4821. It expires in 10 minutes.",
            "route": "otp",
        },
        "5f0a1c9e-0000-4000-8000-000000000003",
    ),
}


def _fixture(folder: Path, name: str) -> Any:
    return json.loads((folder / name).read_text())


def rest(
    resource: str, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A REST proxy event from sam's sample: base64 body, as `sam local generate-event` renders them."""
    event = _sam("apigateway_aws_proxy.json")
    raw = json.dumps(body, ensure_ascii=False).encode()
    event.update(
        {
            "resource": resource,
            "path": path,
            "httpMethod": "POST",
            "body": base64.b64encode(raw).decode(),
            "isBase64Encoded": True,
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": {"token": TOKEN} if "{token}" in resource else None,
            "stageVariables": None,
        }
    )
    extra = {"Content-Type": "application/json"} | (headers or {})
    event["headers"] = event["headers"] | extra
    event["multiValueHeaders"] = event["multiValueHeaders"] | {k: [v] for k, v in extra.items()}
    event["requestContext"] = event["requestContext"] | {
        "resourcePath": resource,
        "httpMethod": "POST",
        "path": f"/v1{path}",
        "stage": "v1",
    }
    if resource.startswith(DARAJA_RESOURCES):
        # Daraja's callbacks come from one of Safaricom's addresses (SafaricomCallbackIps).
        event["requestContext"]["identity"] = event["requestContext"]["identity"] | {"sourceIp": SAFARICOM}
    return event


def signed_headers() -> dict[str, str]:
    """Where a request's RFC 9421 signature goes: placeholders, which the gate refuses (the demo
    and the tests sign each sample with an API key as they send it)."""
    return {"Signature-Input": UNSIGNED, "Signature": UNSIGNED}


def webhook_events() -> dict[str, dict[str, Any]]:
    c2b = _fixture(MPESA, "c2b_confirmation_request_legacy_docs.json")
    return {
        "webhook_c2b_validation.json": rest(
            "/payments/c2b/validation/{token}",
            f"/payments/c2b/validation/{TOKEN}",
            _fixture(MPESA, "c2b_validation_request_legacy_docs.json"),
        ),
        "webhook_c2b_confirmation.json": rest(
            "/payments/c2b/confirmation/{token}", f"/payments/c2b/confirmation/{TOKEN}", c2b
        ),
        "webhook_c2b_confirmation_masked.json": rest(
            "/payments/c2b/confirmation/{token}",
            f"/payments/c2b/confirmation/{TOKEN}",
            _fixture(MPESA, "c2b_callback_v2_masked_msisdn_official.json"),
        ),
        "webhook_stk_success.json": rest(
            "/payments/stk/{token}",
            f"/payments/stk/{TOKEN}",
            _fixture(MPESA, "stk_callback_success_official.json"),
        ),
        "webhook_stk_cancelled.json": rest(
            "/payments/stk/{token}",
            f"/payments/stk/{TOKEN}",
            _fixture(MPESA, "stk_callback_cancelled_1032_official.json"),
        ),
        "webhook_payment_signed.json": rest(
            "/payments",
            "/payments",
            {
                "reference": "INV-2026-0042",
                "amount": "3250.00",
                "phone": "0733 123 401",
                "name": "Achieng Otieno",
                "account": "SCH-FEES-7B",
            },
            signed_headers(),
        ),
        "webhook_alert_signed.json": rest(
            "/alerts",
            "/alerts",
            {
                "id": "pos-7-offline",
                "title": "Till 7 offline",
                "host": "pos-7",
                "severity": "warning",
                "to": ["0722 000 000"],
            },
            signed_headers(),
        ),
        "webhook_delivery_report.json": rest(
            "/delivery-reports/{token}",
            f"/delivery-reports/{TOKEN}",
            _fixture(PROVIDER, "advanta_dlr_callback.json"),
        ),
    }


def stream_events() -> dict[str, dict[str, Any]]:
    event = _sam("dynamodb_update.json")
    record = event["Records"][0]
    image = {
        "payment_id": {"S": "pay-0001"},
        "status": {"S": "COMPLETED"},
        "amount": {"N": "750"},
        "currency": {"S": "KES"},
        "phone": {"S": "0712 345 402"},
        "name": {"S": "Kamau Njoroge"},
        "account": {"S": "WATER-5521"},
        "reference": {"S": "SKL4H7Q2ZP"},
        "paid_at": {"S": "2026-11-24T09:30:00+03:00"},
    }
    record["eventName"] = "INSERT"
    record["dynamodb"] = record["dynamodb"] | {
        "Keys": {"payment_id": image["payment_id"]},
        "NewImage": image,
        "SizeBytes": 220,
    }
    record["eventSourceARN"] = (
        "arn:aws:dynamodb:us-east-1:123456789012:table/tuma-PaymentsTable/stream/2026-11-24T00:00:00.000"
    )
    event["Records"] = [record]
    return {"payments_stream_insert.json": event}


def alarm_events() -> dict[str, dict[str, Any]]:
    sns = _sam("sns_notification.json")["Records"][0]["Sns"]
    alarm = {
        "AlarmName": "tuma-OutboxDeadLetters",
        "AlarmDescription": "Messages in the outbox dead-letter queue",
        "AWSAccountId": "123456789012",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 datapoint [3.0 (24/11/26 07:00:00)] was greater than or equal to the "
        "threshold (1.0).",
        "StateChangeTime": "2026-11-24T07:00:00.000+0000",
        "Region": "EU (Ireland)",
        "AlarmArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:tuma-OutboxDeadLetters",
        "OldStateValue": "OK",
    }
    # SNS delivers into SQS as this JSON document (the envelope Powertools' SnsSqsEnvelope reads).
    body = {
        "Type": "Notification",
        "MessageId": sns["MessageId"],
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:tuma-AlarmTopic",
        "Subject": 'ALARM: "tuma-OutboxDeadLetters" in EU (Ireland)',
        "Message": json.dumps(alarm),
        "Timestamp": "2026-11-24T07:00:01.000Z",
        "SignatureVersion": sns["SignatureVersion"],
        "Signature": sns["Signature"],
        # sam's sample says "EXAMPLE"; SNS always sends URLs here, and the envelope model checks them.
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
        "arn:aws:sns:us-east-1:123456789012:tuma-AlarmTopic:0b3c8d1e-0000-4000-8000-000000000000",
    }
    return {"outbox_alarm_sns.json": sqs(body, "5f0a1c9e-0000-4000-8000-000000000004")}


def schedule_events() -> dict[str, dict[str, Any]]:
    event = _sam("cloudwatch_scheduled_event.json")
    event["resources"] = ["arn:aws:events:us-east-1:123456789012:rule/tuma-BalanceMonitorSchedule"]
    return {"schedule_balance.json": event}


def all_events() -> dict[str, dict[str, Any]]:
    return copy.deepcopy(OUTBOX) | webhook_events() | stream_events() | alarm_events() | schedule_events()


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    wanted = {name: render(event) for name, event in all_events().items()}
    if args.check:
        stale = [
            n for n, text in wanted.items() if not (EVENTS / n).exists() or (EVENTS / n).read_text() != text
        ]
        if stale:
            print(f"events/ is out of date ({', '.join(stale)}): run python scripts/make_events.py")
            return 1
        return 0
    EVENTS.mkdir(exist_ok=True)
    for name, text in wanted.items():
        (EVENTS / name).write_text(text)
    print(f"wrote {len(wanted)} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
