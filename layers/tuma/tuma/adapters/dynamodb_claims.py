"""Claims (`tuma.ports.Claims`) in DynamoDB: the idempotency table, in Powertools Idempotency's item
format (`id`, `status`, `expiration`, `in_progress_expiration`, `data`).

Powertools' persistence layer writes one record per call, and a batch sent in one `sendbulk` has a
hundred: settled one by one they keep a window of a second open after the provider's answer, in
which a crash makes the whole batch go again. Here a batch is claimed with concurrent conditional
writes before the call, and settled with BatchWriteItem right after it: the window is the
provider's round trip and one round of writes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.adapters.dynamodb import batch_write, is_conditional_failure
from tuma.models.sending import Claim, Claimed, ClaimState, Settlement
from tuma.ports import Claims

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEY_PREFIX = "tuma-claim"
INPROGRESS, COMPLETED, RELEASED = "INPROGRESS", "COMPLETED", "RELEASED"
# Without a Lambda deadline an abandoned claim would block until it expires: assume 5 minutes.
DEFAULT_REMAINING_MS = 300_000
T = TypeVar("T")
R = TypeVar("R")


def claim_id(claim: Claim) -> str:
    """Bounded and stable whatever the key's length; reveals no number (refs are digests already)."""
    digest = hashlib.sha256(json.dumps(claim, separators=(",", ":")).encode()).hexdigest()
    return f"{KEY_PREFIX}#{digest}"


@translates_aws_errors
class DynamoDBClaims(Claims):
    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        expires_after_seconds: int,
        concurrency: int = 16,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table
        self._ttl = expires_after_seconds
        self._concurrency = concurrency
        self._clock = clock

    def claim(self, claims: Sequence[Claim], remaining_ms: int | None) -> list[Claimed]:
        remaining = DEFAULT_REMAINING_MS if remaining_ms is None else remaining_ms
        return self._concurrently(lambda claim: self._claim_one(claim, remaining), claims)

    def look(self, claims: Sequence[Claim]) -> list[Claimed]:
        ids = [claim_id(claim) for claim in claims]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 100):  # BatchGetItem's most keys
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [{"id": {"S": i}} for i in dict.fromkeys(ids[start : start + 100])],
                    "ConsistentRead": True,
                }
            }
            while request:
                answer = self._client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    found[item["id"]["S"]] = dict(item)
                request = dict(answer.get("UnprocessedKeys") or {})
        return [self._state(found.get(i)) for i in ids]

    def _state(self, item: dict[str, Any] | None) -> Claimed:
        """A stored claim as `claim` would find it: free (released, expired or abandoned), done, busy."""
        now = self._clock()
        status = (item or {}).get("status", {}).get("S")
        if item is not None and status == RELEASED:
            return Claimed(ClaimState.NEW, pinned=item.get("pinned", {}).get("S"))
        if (
            item is None
            or int(item.get("expiration", {}).get("N", "0")) < now
            or (
                status == INPROGRESS
                and int(item.get("in_progress_expiration", {}).get("N", "0")) < now * 1000
            )
        ):
            return Claimed(ClaimState.NEW)
        if status != COMPLETED:
            return Claimed(ClaimState.BUSY)
        return self._done(item)

    @staticmethod
    def _done(item: dict[str, Any]) -> Claimed:
        try:
            data = json.loads(item["data"]["S"]) if "data" in item else None
        except ValueError:
            data = None
        return Claimed(ClaimState.DONE, Settlement.read(data) if isinstance(data, dict) else None)

    def _claim_one(self, claim: Claim, remaining_ms: int) -> Claimed:
        now = self._clock()
        try:
            answer = self._client.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": claim_id(claim)},
                    "status": {"S": INPROGRESS},
                    "expiration": {"N": str(int(now) + self._ttl)},
                    "in_progress_expiration": {"N": str(int(now * 1000) + remaining_ms)},
                },
                # Free, released (pinned to a provider), expired, or abandoned by an invocation whose
                # time ran out (a crashed sender).
                ConditionExpression=(
                    "attribute_not_exists(id) OR #status = :released OR expiration < :now OR "
                    "(#status = :inprogress AND in_progress_expiration < :now_ms)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":now": {"N": str(int(now))},
                    ":now_ms": {"N": str(int(now * 1000))},
                    ":inprogress": {"S": INPROGRESS},
                    ":released": {"S": RELEASED},
                },
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            old: dict[str, Any] = dict(exc.response.get("Item") or {})  # type: ignore[call-overload]
            if old.get("status", {}).get("S") != COMPLETED:
                return Claimed(ClaimState.BUSY)
            return self._done(old)
        old_item: dict[str, Any] = dict(answer.get("Attributes") or {})
        pinned = (
            old_item.get("pinned", {}).get("S") if old_item.get("status", {}).get("S") == RELEASED else None
        )
        return Claimed(ClaimState.NEW, pinned=pinned)

    def _put(self, claim: Claim, status: str, **fields: str) -> dict[str, Any]:
        """A BatchWriteItem put of a claim in `status`, with string `fields`, expiring like the rest."""
        item = {
            "id": {"S": claim_id(claim)},
            "status": {"S": status},
            "expiration": {"N": str(int(self._clock()) + self._ttl)},
        }
        return {"PutRequest": {"Item": item | {name: {"S": value} for name, value in fields.items()}}}

    def settle(self, results: Sequence[tuple[Claim, Settlement]]) -> None:
        self._write(
            [
                self._put(claim, COMPLETED, data=json.dumps(settled.data(), separators=(",", ":")))
                for claim, settled in results
            ]
        )

    def release(self, claims: Sequence[Claim], pins: Mapping[Claim, str] | None = None) -> None:
        pins = pins or {}
        self._write(
            [
                self._put(claim, RELEASED, pinned=pins[claim])
                if claim in pins
                else {"DeleteRequest": {"Key": {"id": {"S": claim_id(claim)}}}}
                for claim in claims
            ]
        )

    def _write(self, requests: list[dict[str, Any]]) -> None:
        batch_write(
            self._client, self._table, requests, what="claims not settled", concurrency=self._concurrency
        )

    def _concurrently(self, write: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Every write at once, results in order."""
        if len(items) <= 1:
            return [write(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(items))) as pool:
            return list(pool.map(write, items))
