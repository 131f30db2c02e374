"""What every DynamoDB adapter shares."""

from __future__ import annotations

from botocore.exceptions import ClientError


def is_conditional_failure(exc: ClientError) -> bool:
    """A condition expression said no: the expected outcome of a guarded write, not an error."""
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
