"""Integration fixtures: a real moto server and the provider simulator on loopback, resources from template.yaml."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tuma_cli.local.context import LocalContext
from tuma_cli.local.functions import Handler, load_handler
from tuma_cli.local.provision import Topology, client, provision
from tuma_cli.local.sqs_poller import PollResult, SqsPoller
from tuma_cli.sandbox.platform import SimulatorSettings, SmsPlatform
from tuma_cli.sandbox.server import SandboxServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto in a process of its own: in this one it would share the interpreter lock with the
    functions under test, and every AWS call would cost several times what it does."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{endpoint}/moto-api/", timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.1)
    yield endpoint
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(SmsPlatform(SimulatorSettings(dlr_delay=0.2))).start()
    yield server
    server.stop()


@dataclass
class Stack:
    topology: Topology
    sandbox: SandboxServer
    endpoint: str

    def client(self, service: str) -> Any:
        return client(service, self.endpoint)

    def queued(self, delete: bool = True) -> list[dict[str, Any]]:
        """Outbox messages waiting on either lane (docs/design.md, "Lanes"), fast lane first."""
        sqs, bodies = self.client("sqs"), []
        for name in ("FastOutboxQueue", "OutboxQueue"):
            url = self.topology.resources[name]["QueueUrl"]
            handles = []
            while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                bodies += [json.loads(m["Body"]) for m in batch]
                handles += [m["ReceiptHandle"] for m in batch]
            for handle in handles:  # deleted, or visible again for whoever reads next
                if delete:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
                else:
                    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
        return bodies

    def outbox(self) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = httpx.get(f"{self.sandbox.url}/_sandbox/outbox").json()
        return sent

    def sandbox_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = httpx.get(f"{self.sandbox.url}/_sandbox/stats").json()
        return stats

    def faults(self, **plan: Any) -> None:
        httpx.post(f"{self.sandbox.url}/_sandbox/faults", json=plan).raise_for_status()

    def configure_sandbox(self, **settings: Any) -> None:
        httpx.post(f"{self.sandbox.url}/_sandbox/config", json=settings).raise_for_status()

    def set_credentials(self, apikey: str) -> None:
        secret = self.topology.ref("ProviderCredentialsSecret")
        settings = self.sandbox.platform.settings
        value = {
            "apikey": apikey,
            "partnerID": settings.partner_id,
            "shortcode": settings.shortcode,
            "promotional_shortcode": settings.promotional_shortcode,
        }
        self.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=json.dumps(value))

    def ledger(self, with_payments: bool = False) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        pages = (
            self.client("dynamodb").get_paginator("scan").paginate(TableName=self.topology.ref("LedgerTable"))
        )
        items = [item for page in pages for item in page["Items"]]
        entries = [{k: TypeDeserializer().deserialize(v) for k, v in item.items()} for item in items]
        return [e for e in entries if not e["recipient_ref"].startswith("#") or with_payments]

    def payment_record(self, reference: str) -> dict[str, Any] | None:
        return next(
            (
                e
                for e in self.ledger(with_payments=True)
                if (e["idempotency_key"], e["recipient_ref"]) == (reference, "#payment")
            ),
            None,
        )


@pytest.fixture
def stack_factory(
    moto_endpoint: str, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Stack]:
    """A fresh emulator state with template.yaml's resources, for the given template parameters."""

    def make(**parameters: str) -> Stack:
        httpx.post(f"{moto_endpoint}/moto-api/reset").raise_for_status()
        topology = provision(ROOT, moto_endpoint, overrides=parameters)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        made = Stack(topology, sandbox, moto_endpoint)
        made.set_credentials(sandbox.platform.settings.apikey)
        return made

    return make


@pytest.fixture
def stack(stack_factory: Callable[..., Stack]) -> Stack:
    return stack_factory()


def function_env(stack: Stack, name: str, monkeypatch: pytest.MonkeyPatch, **overrides: str) -> None:
    spec = stack.topology.functions[name]
    for key, value in spec.environment.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SMS_API_BASE_URL", stack.sandbox.url)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", spec.logical_id)
    for key, value in overrides.items():
        monkeypatch.setenv(key, value)


@dataclass
class Function:
    name: str
    handler: Handler
    timeout: float

    def __call__(self, event: dict[str, Any]) -> Any:
        return self.handler(event, LocalContext(self.name, self.timeout))


def load_function(stack: Stack, name: str, monkeypatch: pytest.MonkeyPatch, **overrides: str) -> Function:
    function_env(stack, name, monkeypatch, **overrides)
    spec = stack.topology.functions[name]
    return Function(name, load_handler(spec.directory, spec.handler), spec.timeout)


@dataclass
class LanesResult(PollResult):
    failed_at: list[tuple[str, str]] = field(default_factory=list)  # (queue URL, receipt handle)


class Lanes:
    """The sender's two event sources (docs/design.md, "Lanes"), polled one after the other."""

    def __init__(self, sqs: Any, pollers: list[SqsPoller]) -> None:
        self._sqs = sqs
        self.pollers = pollers
        self.queue_url, self.queue_arn = pollers[-1].queue_url, pollers[-1].queue_arn  # the outbox queue

    @property
    def invocations(self) -> int:
        return sum(p.invocations for p in self.pollers)

    def poll_once(self, wait_seconds: int = 0) -> LanesResult:
        merged = LanesResult()
        for poller in self.pollers:
            result = poller.poll_once(wait_seconds)
            merged.received += result.received
            merged.deleted += result.deleted
            merged.failed_receipts += result.failed_receipts
            merged.failed_at += [(poller.queue_url, r) for r in result.failed_receipts]
            merged.error = merged.error or result.error
        return merged

    def retry_now(self, result: LanesResult) -> None:
        """Time passes: what the function postponed is visible again."""
        for url, receipt in result.failed_at:
            self._sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)


def outbox_poller(stack: Stack, function: Function, batch_size: int = 100) -> Lanes:
    sqs = stack.client("sqs")
    pollers = []
    for name, size in (("FastOutboxQueue", min(10, batch_size)), ("OutboxQueue", batch_size)):
        queue = stack.topology.resources[name]
        pollers.append(SqsPoller(sqs, queue["QueueUrl"], queue["Arn"], function, batch_size=size))
    return Lanes(sqs, pollers)
