"""What every DynamoDB adapter shares."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer
from botocore.exceptions import ClientError

from tuma.batching import chunked

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

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


def conditionally(write: Callable[..., object], **request: Any) -> bool:
    """`write(**request)`, a write guarded by a condition expression: True when it was applied,
    False when the condition said no; any other failure is raised."""
    try:
        write(**request)
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        return False
    return True


def conditionally_updated(update: Callable[..., Any], **request: Any) -> dict[str, Any] | None:
    """`update(**request, ReturnValues="ALL_NEW")` guarded by a condition: the item as updated, or
    None when the condition said no; any other failure is raised."""
    try:
        return dict(update(**request, ReturnValues="ALL_NEW").get("Attributes", {}))
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        return None


# -- batches: what DynamoDB leaves unprocessed is tried again, with backoff ------------------------

WRITE_BATCH = 25  # BatchWriteItem's limit
GET_BATCH = 100  # BatchGetItem's limit
_TRIES = 8


def _backoff(attempt: int) -> float:
    """DynamoDB leaves items unprocessed when throttled and asks for exponential backoff."""
    return min(1.0, 0.05 * float(2**attempt))


def batch_write(
    client: DynamoDBClient,
    table: str,
    requests: Sequence[Mapping[str, Any]],
    *,
    what: str,
    concurrency: int = 8,
    pause: Callable[[float], None] = time.sleep,
) -> None:
    """Put and delete requests, 25 a call, the calls at once; raises ConnectionError naming `what`
    when some are still unprocessed after the retries (nothing is dropped silently)."""

    def one(chunk: list[Any]) -> None:
        pending = chunk
        for attempt in range(_TRIES):
            answer = client.batch_write_item(RequestItems={table: pending})
            pending = answer.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                return
            pause(_backoff(attempt))
        raise ConnectionError(f"{what}: {len(pending)} writes still unprocessed")

    chunks = [list(chunk) for chunk in chunked(requests, WRITE_BATCH)]
    if len(chunks) <= 1 or concurrency <= 1:
        for chunk in chunks:
            one(chunk)
        return
    with ThreadPoolExecutor(max_workers=min(concurrency, len(chunks))) as pool:
        list(pool.map(one, chunks))


def batch_get(
    client: DynamoDBClient,
    table: str,
    keys: Sequence[Mapping[str, Any]],
    *,
    what: str,
    projection: str | None = None,
    consistent: bool = False,
    pause: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """The items of `keys` that exist, 100 keys a call; raises ConnectionError naming `what` when some
    keys are still unread after the retries: a caller must not take an unread item for an absent one."""
    found: list[dict[str, Any]] = []
    for chunk in chunked(keys, GET_BATCH):
        request: dict[str, Any] = {"Keys": list(chunk)}
        if projection:
            request["ProjectionExpression"] = projection
        if consistent:
            request["ConsistentRead"] = True
        pending: Any = {table: request}
        for attempt in range(_TRIES):
            answer = client.batch_get_item(RequestItems=pending)
            found += answer.get("Responses", {}).get(table, [])
            pending = answer.get("UnprocessedKeys") or {}
            if not pending:
                break
            pause(_backoff(attempt))
        else:
            raise ConnectionError(f"{what}: some items still unread")
    return found


def every_item(read: Callable[..., Any], request: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every item a query or a scan (`read`: `client.query`, `client.scan`) finds, page after page."""
    page = dict(request)
    while True:
        answer = read(**page)
        yield from answer.get("Items", [])
        if "LastEvaluatedKey" not in answer:
            return
        page["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
