"""Lambda's DynamoDB Streams event source, locally.

Reads each shard from the template's starting position, drops records that fail the event's
filter criteria (as Lambda does, before invoking), invokes in batches, and on a failure retries
from the first failed sequence number; after MaximumRetryAttempts the batch's description goes to
the on-failure destination and the shard moves on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tuma_cli.local.events import dynamodb_stream_event

log = logging.getLogger(__name__)
Invoke = Callable[[dict[str, Any]], Any]


def matches(pattern: Any, value: Any) -> bool:
    """Lambda event-filter semantics for the subset templates use: values, exists, prefix, anything-but."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(_field(rule, value.get(key), key in value) for key, rule in pattern.items())
    return _field(pattern, value, value is not None)


def _field(rule: Any, value: Any, present: bool) -> bool:
    if isinstance(rule, dict):
        return present and matches(rule, value)
    if isinstance(rule, list):
        return any(_option(option, value, present) for option in rule)
    return bool(present and value == rule)


def _option(option: Any, value: Any, present: bool) -> bool:
    """One option of a list: a value (or a member of a list value), or an operator."""
    if not isinstance(option, dict):
        return present and (value == option or (isinstance(value, list) and option in value))
    return any(
        OPERATORS[name](operand, value, present) for name, operand in option.items() if name in OPERATORS
    )


def _anything_but(excluded: Any, value: Any, present: bool) -> bool:
    return present and value not in (excluded if isinstance(excluded, list) else [excluded])


OPERATORS: dict[str, Callable[[Any, Any, bool], bool]] = {
    "exists": lambda wanted, _, present: bool(wanted) == present,
    "prefix": lambda prefix, value, _: isinstance(value, str) and value.startswith(prefix),
    "anything-but": _anything_but,
}


class StreamPoller:
    def __init__(
        self,
        streams: Any,
        sqs: Any,
        stream_arn: str,
        invoke: Invoke,
        *,
        properties: dict[str, Any],
        destination_url: str | None = None,
    ) -> None:
        self._streams = streams
        self._sqs = sqs
        self.stream_arn = stream_arn
        self._invoke = invoke
        self.batch_size = int(properties.get("BatchSize", 100))
        self.max_retries = int(properties.get("MaximumRetryAttempts", -1))
        self.starting_position = str(properties.get("StartingPosition", "LATEST"))
        filters = ((properties.get("FilterCriteria") or {}).get("Filters")) or []
        self.patterns = [json.loads(f["Pattern"]) for f in filters]
        self.report_failures = "ReportBatchItemFailures" in (properties.get("FunctionResponseTypes") or [])
        self._destination = destination_url
        self._iterators: dict[str, str] = {}
        self.invocations = 0
        self.filtered = 0
        self.discarded = 0

    def _wanted(self, record: dict[str, Any]) -> bool:
        return not self.patterns or any(matches(p, record) for p in self.patterns)

    def start_positions(self) -> None:
        shards = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            kind = "TRIM_HORIZON" if self.starting_position == "TRIM_HORIZON" else "LATEST"
            self._iterators[shard["ShardId"]] = self._streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType=kind
            )["ShardIterator"]

    def poll_once(self) -> int:
        """Process what each shard has; answers how many records were read."""
        read = 0
        for shard, iterator in list(self._iterators.items()):
            answer = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            records = answer.get("Records", [])
            read += len(records)
            self._iterators[shard] = answer.get("NextShardIterator") or iterator
            wanted = [
                r for r in dynamodb_stream_event(records, self.stream_arn)["Records"] if self._wanted(r)
            ]
            self.filtered += len(records) - len(wanted)
            for start in range(0, len(wanted), self.batch_size):
                self._deliver(wanted[start : start + self.batch_size])
        return read

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        attempt = 0
        while batch:
            self.invocations += 1
            try:
                response = self._invoke({"Records": batch})
                failed = self._first_failure(batch, response)
            except Exception as exc:
                log.warning("stream batch failed: %s", exc)
                failed = 0
            if failed is None:
                return
            attempt += 1
            if 0 <= self.max_retries < attempt:
                self._discard(batch[failed:])
                return
            batch = batch[failed:]  # retry from the first failed sequence number
            time.sleep(min(2.0, 0.1 * 2**attempt))

    def _first_failure(self, batch: list[dict[str, Any]], response: Any) -> int | None:
        if not self.report_failures or not isinstance(response, dict):
            return None
        ids = {f.get("itemIdentifier") for f in response.get("batchItemFailures") or []}
        for index, record in enumerate(batch):
            if record["dynamodb"]["SequenceNumber"] in ids:
                return index
        return None

    def _discard(self, records: list[dict[str, Any]]) -> None:
        self.discarded += len(records)
        log.error("%d stream records exhausted their retries", len(records))
        if self._destination:
            self._sqs.send_message(
                QueueUrl=self._destination,
                MessageBody=json.dumps(
                    {
                        "requestContext": {"condition": "RetryAttemptsExhausted"},
                        "DDBStreamBatchInfo": {
                            "streamArn": self.stream_arn,
                            "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                            "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                            "batchSize": len(records),
                        },
                        "timestamp": datetime.now(UTC).isoformat(),
                    }
                ),
            )

    def run(self, stop: threading.Event) -> None:
        self.start_positions()
        while not stop.is_set():
            try:
                if not self.poll_once():
                    stop.wait(0.25)
            except Exception as exc:  # the emulator went away on shutdown, or hiccupped
                if stop.is_set():
                    return
                log.warning("stream poll failed: %s", exc)
                stop.wait(0.5)
