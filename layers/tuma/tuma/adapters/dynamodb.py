"""What every DynamoDB adapter shares."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer
from botocore.exceptions import ClientError

_deserializer = TypeDeserializer()


def attribute(value: str | int | Decimal | bool) -> dict[str, Any]:
    """A ledger value (text, number or flag) as a DynamoDB attribute value.

    (boto3's TypeSerializer would do, but importing boto3 costs every cold start ~150 ms.)"""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | Decimal):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    raise TypeError(f"no DynamoDB type for {type(value).__name__}")


def python_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item as read from DynamoDB, as Python values (numbers as Decimal, sets as sets)."""
    return {k: _deserializer.deserialize(dict(v)) for k, v in item.items()}


def is_conditional_failure(exc: ClientError) -> bool:
    """A condition expression said no: the expected outcome of a guarded write, not an error."""
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
