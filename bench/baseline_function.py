"""The baseline of bench/cold_start.py: a plain SQS-batch function as Powertools' examples build one.

Not part of Tuma. Its module-level code is what such a function does at cold start.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import boto3
import httpx
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
sqs = boto3.client("sqs")
dynamodb = boto3.client("dynamodb")
http = httpx.Client(timeout=10)
TABLE = os.environ.get("TABLE_NAME", "table")


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    dynamodb.put_item(TableName=TABLE, Item={"id": {"S": record.message_id}})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
