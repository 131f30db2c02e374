"""Small named state items (the balance monitor's "is it low?") in DynamoDB, flipped conditionally."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

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
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
