"""Failover with the real sender function, the real state table (moto) and two simulators on loopback:
the breaker's state outlives a cold start and is shared by senders running at once."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Function, Lanes, Stack, load_function, outbox_poller
from tuma_cli.sandbox.platform import SimulatorSettings, SmsPlatform
from tuma_cli.sandbox.server import SandboxServer


@pytest.fixture
def secondary() -> Iterator[SandboxServer]:
    server = SandboxServer(
        SmsPlatform(SimulatorSettings(apikey="secondary-apikey-0123456789", partner_id="777", dlr_delay=0.2))
    ).start()
    yield server
    server.stop()


@pytest.fixture
def failover_stack(stack_factory: Callable[..., Stack], secondary: SandboxServer) -> Stack:
    stack = stack_factory(SecondaryProviderBaseUrl=secondary.url)
    settings = secondary.platform.settings
    stack.client("secretsmanager").put_secret_value(
        SecretId=stack.topology.ref("SecondaryCredentialsSecret"),
        SecretString=json.dumps(
            {"apikey": settings.apikey, "partnerID": settings.partner_id, "shortcode": settings.shortcode}
        ),
    )
    return stack


def _put(stack: Stack, keys: list[str]) -> None:
    sqs = stack.client("sqs")
    url = stack.topology.resources["OutboxQueue"]["QueueUrl"]
    for start in range(0, len(keys), 10):
        entries = [
            {
                "Id": str(i),
                "MessageBody": json.dumps({"idempotency_key": k, "to": [f"07120{n:05d}"], "text": k}),
            }
            for i, (n, k) in enumerate(enumerate(keys[start : start + 10], start))
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def _texts(server: SandboxServer) -> list[str]:
    return [m["message"] for m in httpx.get(f"{server.url}/_sandbox/outbox").json()]


def _breaker(stack: Stack) -> dict[str, Any] | None:
    item = (
        stack.client("dynamodb")
        .get_item(TableName=stack.topology.ref("StateTable"), Key={"name": {"S": "provider-breaker"}})
        .get("Item")
    )
    return json.loads(item["document"]["S"]) if item else None


def _sender(stack: Stack, monkeypatch: pytest.MonkeyPatch, **env: str) -> Function:
    return load_function(
        stack,
        "outbox_sender",
        monkeypatch,
        ALERT_RECIPIENTS="0722000111",
        SMS_SECONDARY_API_BASE_URL=stack.topology.parameters["SecondaryProviderBaseUrl"],
        **env,
    )


def test_the_open_breaker_outlives_a_cold_start(
    failover_stack: Stack, secondary: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = failover_stack
    stack.faults(rate=1.0, kinds=["5xx"])
    first = _sender(stack, monkeypatch, FAILOVER_THRESHOLD="2")
    poller = outbox_poller(stack, first, batch_size=1)
    _put(stack, ["A1", "A2"])
    for _ in range(2):
        poller.poll_once()
    assert (_breaker(stack) or {}).get("state") == "open"
    assert _texts(secondary).count("A2") == 1  # the send that opened it went out through the secondary

    calls_before = stack.sandbox_stats()["requests"]
    cold = _sender(stack, monkeypatch, FAILOVER_THRESHOLD="2")  # a new process: nothing in memory
    _put(stack, ["B1", "B2", "B3"])
    outbox_poller(stack, cold, batch_size=10).poll_once()
    assert stack.sandbox_stats()["requests"] == calls_before, "the cold sender tried the primary again"
    assert {"B1", "B2", "B3"} <= set(_texts(secondary))
    assert not set(_texts(secondary)) & {m["message"] for m in stack.outbox()}


def test_senders_running_at_once_share_one_breaker_and_send_nothing_twice(
    failover_stack: Stack, secondary: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = failover_stack
    stack.faults(rate=1.0, kinds=["5xx", "1005"])
    senders = [_sender(stack, monkeypatch, FAILOVER_THRESHOLD="2") for _ in range(2)]
    keys = [f"C{i:02d}" for i in range(40)]
    _put(stack, keys)
    pollers = [outbox_poller(stack, sender, batch_size=5) for sender in senders]

    def drain(poller: Lanes) -> None:
        for _ in range(12):
            result = poller.poll_once()
            poller.retry_now(result)

    threads = [threading.Thread(target=drain, args=(p,)) for p in pollers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    texts = _texts(secondary)
    assert sorted(t for t in texts if t in keys) == keys  # every message once, all at the secondary
    assert not stack.outbox()  # the primary took nothing
    alerts = [t for t in texts if "provider down" in t]
    assert len(alerts) == 1, alerts  # one opening, however many senders saw the primary fail
    entries = [e for e in stack.ledger() if e["idempotency_key"] in keys]
    assert {e["provider"] for e in entries} == {"secondary"} and {e["status"] for e in entries} == {"SENT"}
