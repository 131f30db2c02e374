"""The optional customer directory: a DynamoDB table from account number to phone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.ports import CustomerDirectory

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@translates_aws_errors
class DynamoDBCustomers(CustomerDirectory):
    def __init__(
        self, client: DynamoDBClient, table: str, key: str = "account", phone: str = "phone"
    ) -> None:
        self._client = client
        self._table = table
        self._key = key
        self._phone = phone

    def phone_for(self, account: str) -> str | None:
        item = self._client.get_item(
            TableName=self._table,
            Key={self._key: {"S": account.strip()}},
            ProjectionExpression="#p",
            ExpressionAttributeNames={"#p": self._phone},
        ).get("Item")
        if not item:
            return None
        value = item.get(self._phone, {})
        return value.get("S") or value.get("N")

    def knows(self, account: str) -> bool:
        return bool(
            self._client.get_item(TableName=self._table, Key={self._key: {"S": account.strip()}}).get("Item")
        )
