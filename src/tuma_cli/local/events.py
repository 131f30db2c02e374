"""Lambda events built from what the local AWS emulator returns, in the shapes Lambda delivers."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tuma_cli.local.template import REGION


def _lambda_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    # SQS's API spells message attributes StringValue/DataType; Lambda's event spells them camelCase.
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": value.get("BinaryValue"),
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": value.get("BinaryListValues", []),
        "dataType": value.get("DataType", "String"),
    }


def sqs_event(messages: Sequence[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    """An SQS event from `receive_message` results (asked with AttributeNames=All, MessageAttributeNames=All)."""
    records = []
    for message in messages:
        attributes = dict(message.get("Attributes") or {})
        body = message["Body"]
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
                    "SenderId": attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
                    "ApproximateFirstReceiveTimestamp": attributes.get(
                        "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
                    ),
                },
                "messageAttributes": {
                    k: _lambda_attribute(v) for k, v in (message.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


def _lambda_value(value: Any) -> Any:
    """An attribute value as Lambda's JSON event carries it: boto3 hands binaries (B, BS) over as
    bytes, which Lambda's event writes in base64; every other type (S, N, NS, SS, BOOL, NULL, M, L)
    is already in its wire form, maps and lists holding attribute values in turn."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Mapping):
        return {k: _lambda_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lambda_value(v) for v in value]
    return value


def dynamodb_stream_event(records: Sequence[Mapping[str, Any]], stream_arn: str) -> dict[str, Any]:
    """A DynamoDB Streams event from `get_records` results.

    As in AWS, get_records leaves out `eventSourceARN`, and boto3 turns ApproximateCreationDateTime
    into a datetime, where Lambda delivers epoch seconds.
    """
    out = []
    for record in records:
        event = dict(record)
        change = {
            k: _lambda_value(v) if k in ("Keys", "NewImage", "OldImage") else v
            for k, v in event["dynamodb"].items()
        }
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            change["ApproximateCreationDateTime"] = int(created.timestamp())
        event["dynamodb"] = change
        event["eventSourceARN"] = stream_arn
        event["awsRegion"] = REGION
        out.append(event)
    return {"Records": out}


def rest_proxy_event(
    method: str,
    path: str,
    *,
    resource: str,
    path_parameters: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    query: Mapping[str, list[str]] | None = None,
    source_ip: str = "127.0.0.1",
    stage: str = "v1",
    sent_path: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, as the real integration builds it.

    A body that is valid UTF-8 travels as text; anything else is base64 with isBase64Encoded set,
    as API Gateway does for binary payloads.
    """
    import uuid

    text: str | None = None
    encoded = False
    if body is not None:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
    headers = dict(headers or {})
    query = dict(query or {})
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method.upper(),
            # The path as the client sent it (percent-encoded, with the stage unless a custom domain
            # maps it away): what RFC 9421's @path covers.
            "path": sent_path if sent_path is not None else f"/{stage}{path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent")},
            "accountId": "123456789012",
            "apiId": "local",
            "protocol": "HTTP/1.1",
            "domainName": "127.0.0.1",
        },
        "body": text,
        "isBase64Encoded": encoded,
    }
