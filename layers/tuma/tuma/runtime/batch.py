"""The answer a batch handler gives Lambda: which records failed and must come back.

SQS redelivers exactly those messages; a DynamoDB stream retries from the lowest failed sequence
number. Both event sources need `ReportBatchItemFailures` in template.yaml. (Powertools has the
same TypedDict, but importing it loads its whole batch package at every cold start.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict


class ItemFailure(TypedDict):
    itemIdentifier: str


class BatchResponse(TypedDict):
    batchItemFailures: list[ItemFailure]


def item_failures(identifiers: Iterable[str]) -> BatchResponse:
    return {"batchItemFailures": [{"itemIdentifier": identifier} for identifier in identifiers]}
