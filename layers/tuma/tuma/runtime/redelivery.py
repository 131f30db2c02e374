"""Failed SQS records back later, each after its own wait: the queue, not a sleeping Lambda, waits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from tuma.adapters.sqs_visibility import Postponement
from tuma.runtime.batch import BatchResponse, item_failures

if TYPE_CHECKING:
    from tuma.adapters.sqs_visibility import SqsVisibility
    from tuma.runtime.events import SqsMessage


def redeliver_later(
    visibility: SqsVisibility, records: Mapping[str, SqsMessage], later: Iterable[tuple[str, int]]
) -> BatchResponse:
    """Postpone each `(record id, seconds)` and answer Lambda with those records as failures (best
    effort: a record not postponed still returns after the queue's own visibility timeout)."""
    waits = list(later)
    visibility.postpone(
        [
            Postponement(records[i].event_source_arn, records[i].receipt_handle, seconds)
            for i, seconds in waits
            if records[i].event_source_arn
        ]
    )
    return item_failures(i for i, _ in waits)
