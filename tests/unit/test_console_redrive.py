"""The console's redrive in a deployed stack: SQS's own message move task, which keeps each message's
age (a receive-and-send copy would restart the 14 days a message, and the number in it, may live)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from tuma_cli.console.backend import Backend
from tuma_cli.stack import Stack

DLQ = "https://sqs.eu-west-1.amazonaws.com/123456789012/tuma-OutboxDeadLetterQueue"
OUTBOX = "https://sqs.eu-west-1.amazonaws.com/123456789012/tuma-OutboxQueue"


def test_a_deployed_stack_redrives_with_a_message_move_task_and_never_receives_a_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    stack = Stack(
        tables={"ledger": "tuma-LedgerTable", "templates": "tuma-TemplatesTable"},
        region="eu-west-1",
        outputs={"OutboxDeadLetterQueueUrl": DLQ, "OutboxQueueUrl": OUTBOX},
        stack_name="tuma",
    )
    backend = Backend(stack)
    sqs = boto3.client("sqs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    backend._sqs = sqs
    with Stubber(sqs) as stub:
        for url, name in ((DLQ, "tuma-OutboxDeadLetterQueue"), (OUTBOX, "tuma-OutboxQueue")):
            stub.add_response(
                "get_queue_attributes",
                {"Attributes": {"QueueArn": f"arn:aws:sqs:eu-west-1:123456789012:{name}"}},
                {"QueueUrl": url, "AttributeNames": ["QueueArn"]},
            )
        stub.add_response(
            "get_queue_attributes",
            {
                "Attributes": {
                    "ApproximateNumberOfMessages": "3",
                    "ApproximateNumberOfMessagesNotVisible": "0",
                }
            },
        )
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "handle"},
            {
                "SourceArn": "arn:aws:sqs:eu-west-1:123456789012:tuma-OutboxDeadLetterQueue",
                "DestinationArn": "arn:aws:sqs:eu-west-1:123456789012:tuma-OutboxQueue",
            },
        )
        assert backend.redrive() == (3, True)
        stub.assert_no_pending_responses()  # and no receive_message: the stubber refuses unplanned calls
