"""A function's execution environment, locally: one process per function, as Lambda gives each its own.

The parent (`tuma local up`) starts `python -m tuma_cli.local.worker DIR HANDLER NAME TIMEOUT` with
the function's environment from template.yaml. Requests arrive as JSON lines on stdin, answers go
back as JSON lines on a private copy of stdout, and everything the function prints (Powertools logs
and metrics) goes to stderr, where the parent collects it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from tuma_cli.local.context import LocalContext


class InvocationError(RuntimeError):
    """The function raised, timed out or its process died: Lambda would report a function error."""


# The parameters of an AWS call that name what it touches: what IAM judges it on.
RESOURCE_PARAMS = ("TableName", "IndexName", "QueueUrl", "QueueName", "SecretId", "TopicArn", "StreamArn")


# The partition keys of Tuma's tables, as an item names them (`dynamodb:LeadingKeys` conditions judge
# these).
PARTITION_KEYS = ("idempotency_key", "number_key", "name", "id")


def _leading(key: Any, *, item: bool = False) -> str | None:
    """The partition key value of a `Key` (else its first attribute, as Tuma's code writes them) or
    of an `Item` (only a known partition key attribute: an item's other attributes are its data)."""
    if not isinstance(key, dict) or not key:
        return None
    named = [key[name] for name in PARTITION_KEYS if name in key]
    found = named[0] if named else (None if item else next(iter(key.values())))
    return str(found["S"]) if isinstance(found, dict) and "S" in found else None


def _leading_keys(params: dict[str, Any]) -> dict[str, list[str]] | None:
    """The partition keys a DynamoDB call names, by table (single-item calls and batches)."""
    if "TableName" in params and ("Key" in params or "Item" in params):
        leading = _leading(params["Key"]) if "Key" in params else _leading(params["Item"], item=True)
        return {params["TableName"]: [leading]} if leading is not None else None
    found = {table: _batch_keys(requests) for table, requests in (params.get("RequestItems") or {}).items()}
    return found or None


def _batch_keys(requests: Any) -> list[str]:
    """A BatchGetItem's keys (a dict of `Keys`) or a BatchWriteItem's (a list of put and delete requests)."""
    if isinstance(requests, dict):
        keys = [_leading(key) for key in requests.get("Keys", [])]
    else:
        keys = [
            _leading(r["PutRequest"]["Item"], item=True)
            if "PutRequest" in r
            else _leading(r["DeleteRequest"]["Key"])
            for r in requests
        ]
    return [key for key in keys if key is not None]


def record_aws_calls(path: str, function: str) -> None:
    """Append every AWS call this process makes (service, operation, the resources it names) to
    `path`, one JSON line each: tests/e2e/test_permissions.py holds them to the function's role."""
    from botocore.client import BaseClient

    # A private method of botocore's (every API call of every client passes through it): this is a
    # test harness of the local topology, never loaded in Lambda.
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def recording(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        named: dict[str, Any] = {key: params[key] for key in RESOURCE_PARAMS if key in params}
        leading = _leading_keys(params)
        if leading is not None:
            named["Leading"] = leading
        if "RequestItems" in params:
            named["Tables"] = sorted(params["RequestItems"])
        if "TransactItems" in params:
            named["Transact"] = sorted(
                {
                    (kind, detail["TableName"])
                    for item in params["TransactItems"]
                    for kind, detail in item.items()
                }
            )
        entry = {
            "function": function,
            "service": client.meta.service_model.signing_name,
            "operation": operation,
            "params": named,
        }
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")
        return original(client, operation, params)

    BaseClient._make_api_call = recording  # type: ignore[attr-defined]


def serve(directory: Path, handler: str, name: str, timeout: float) -> int:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    if os.environ.get("TUMA_LOCAL_AWS_CALLS"):
        record_aws_calls(os.environ["TUMA_LOCAL_AWS_CALLS"], name)
    os.dup2(2, 1)  # the function's own prints and logs join stderr
    # Line by line, so metric lines (printed, not logged) reach the parent as they happen.
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.path.insert(0, str(directory))
    try:
        from tuma_cli.local.functions import load_handler

        function = load_handler(directory, handler)
    except Exception:
        protocol.write(json.dumps({"init_error": traceback.format_exc(limit=5)}) + "\n")
        return 1
    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        context = LocalContext(name, timeout)
        try:
            result = function(request["event"], context)
            answer: dict[str, Any] = {"id": request["id"], "result": result}
        except Exception as exc:
            traceback.print_exc()
            answer = {"id": request["id"], "error": f"{type(exc).__name__}: {exc}"}
        protocol.write(json.dumps(answer, default=str) + "\n")
    return 0


class FunctionProcess:
    """The parent's handle on one worker: invoke synchronously, restart after a crash or a timeout."""

    def __init__(
        self,
        name: str,
        directory: Path,
        handler: str,
        *,
        environment: dict[str, str],
        timeout: float,
        log: IO[str],
        on_metrics: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.name = name
        self._on_metrics = on_metrics
        self._args = [
            sys.executable,
            "-m",
            "tuma_cli.local.worker",
            str(directory),
            handler,
            name,
            str(timeout),
        ]
        self._environment = environment
        self.timeout = timeout
        self._log = log
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._counter = 0
        self.invocations = 0
        self.cold_starts = 0

    def _start(self) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            self._args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self._environment,
            bufsize=1,
        )
        threading.Thread(target=self._collect, args=(process,), name=f"logs-{self.name}", daemon=True).start()
        assert process.stdout is not None
        first = process.stdout.readline()
        status = json.loads(first) if first else {"init_error": "the worker exited during init"}
        if "init_error" in status:
            process.kill()
            raise InvocationError(f"{self.name} failed to initialise: {status['init_error']}")
        self.cold_starts += 1
        return process

    def _collect(self, process: subprocess.Popen[str]) -> None:
        """Copy the function's output to its log, and hand metric lines (EMF) on, as CloudWatch Logs would."""
        assert process.stderr is not None
        for line in process.stderr:
            self._log.write(line)
            if self._on_metrics is not None and line.startswith('{"_aws"'):
                try:
                    self._on_metrics(json.loads(line))
                except Exception as exc:  # a metric that cannot be forwarded must not stop the logs
                    self._log.write(f"[local] metric not forwarded: {exc}\n")

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process = self._start()
            process = self._process
            assert process.stdin is not None and process.stdout is not None
            self._counter += 1
            self.invocations += 1
            process.stdin.write(json.dumps({"id": self._counter, "event": event}) + "\n")
            process.stdin.flush()
            answer = _read_line(process.stdout, self.timeout + 5)
            if answer is None:
                process.kill()
                self._process = None
                raise InvocationError(f"{self.name} timed out after {self.timeout:.0f} s")
            reply = json.loads(answer)
            if "error" in reply:
                raise InvocationError(reply["error"])
            return reply.get("result")

    def kill(self) -> bool:
        """End the function's process at once, as a Lambda host dies or times out: an invocation in
        flight is lost mid-way. True when there was a process to kill."""
        process = self._process
        if process is None or process.poll() is not None:
            return False
        process.kill()
        return True

    def stop(self) -> None:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                assert self._process.stdin is not None
                self._process.stdin.close()
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
            self._process = None


def _read_line(stream: IO[str], timeout: float) -> str | None:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if reader.is_alive() or not result or not result[0]:
        return None
    return result[0]


def main() -> int:
    directory, handler, name, timeout = sys.argv[1:5]
    return serve(Path(directory), handler, name, float(timeout))


if __name__ == "__main__":
    sys.exit(main())
