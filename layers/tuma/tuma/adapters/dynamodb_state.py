"""Small named state items (the balance monitor's "is it low?") in DynamoDB, flipped conditionally."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from tuma.adapters.dynamodb import is_conditional_failure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDBLowState:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def flip(self, name: str, low: bool, at: str) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"name": {"S": name}},
                UpdateExpression="SET low = :low, changed_at = :at",
                ConditionExpression="attribute_not_exists(low) OR low <> :low",
                ExpressionAttributeValues={":low": {"BOOL": low}, ":at": {"S": at}},
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True
