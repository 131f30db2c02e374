"""Events built by the local glue have the shape Lambda (and `sam local generate-event`) gives."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import ROOT
from tuma_cli.local.events import sqs_event

SAM = ROOT / "tests" / "fixtures" / "aws" / "sam-cli"


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


def test_sqs_event_matches_the_sam_sample_shape() -> None:
    sample = json.loads((SAM / "sqs_receive_message.json").read_text())
    built = sqs_event(
        [
            {
                "MessageId": "m-1",
                "ReceiptHandle": "rh",
                "Body": "Hello from SQS!",
                "MD5OfBody": "x",
                "Attributes": {
                    "ApproximateReceiveCount": "2",
                    "SentTimestamp": "1",
                    "SenderId": "s",
                    "ApproximateFirstReceiveTimestamp": "2",
                },
            }
        ],
        "arn:aws:sqs:us-east-1:123456789012:MyQueue",
    )
    assert _shape(built) == _shape(sample)
    assert built["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"


def test_powertools_reads_the_built_event() -> None:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSEvent

    built = sqs_event(
        [{"MessageId": "m-1", "ReceiptHandle": "rh", "Body": "{}", "Attributes": {}}], "arn:a:b:c:d:e"
    )
    record = next(iter(SQSEvent(built).records))
    assert record.message_id == "m-1"
    assert record.attributes.approximate_receive_count == "1"
    assert record.event_source_arn == "arn:a:b:c:d:e"
