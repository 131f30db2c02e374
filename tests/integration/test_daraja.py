"""Daraja's side over loopback: the simulator, the webhooks behind a local API front, the pull job and
the sender against moto. A payment whose callback never came still makes one SMS."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from tuma.services.daraja_setup import CallbackUrls
from tuma.services.pull import checkpoint_name

from tests.conftest import ROOT
from tests.integration.conftest import Function, Stack, load_function, outbox_poller
from tuma_cli.daraja_sandbox.server import CALLBACKS_FROM, DarajaSimulator
from tuma_cli.local.api_front import ApiFront, routes_from

pytestmark = pytest.mark.integration
SCHEDULE = json.loads((ROOT / "events" / "schedule_balance.json").read_text())


class Daraja:
    def __init__(self, stack: Stack, simulator: DarajaSimulator, front: ApiFront, pull: Function) -> None:
        self.stack, self.simulator, self.front, self.pull = stack, simulator, front, pull

    def pay(self, receipt: str, callback: str = "deliver", **fields: Any) -> None:
        body = {
            "TransID": receipt,
            "TransAmount": "150.00",
            "MSISDN": "254712345678",
            "FirstName": "Wanjiku",
            "BillRefNumber": "INV-1",
            "callback": callback,
        } | fields
        httpx.post(f"{self.simulator.url}/_sandbox/payments", json=body).raise_for_status()

    def state(self, name: str) -> dict[str, Any] | None:
        from tuma.adapters.dynamodb_state import DynamoDBStateStore

        return DynamoDBStateStore(self.stack.client("dynamodb"), self.stack.topology.ref("StateTable")).read(
            name
        )

    def wait_for_callbacks(self) -> None:
        deadline = time.monotonic() + 10
        while self.simulator.platform.outgoing and time.monotonic() < deadline:
            time.sleep(0.05)

    def wait_posted(self, receipt: str) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if any(p.TransID == receipt and p.posted for p in self.simulator.platform.payments):
                return
            time.sleep(0.05)
        raise AssertionError(f"the confirmation of {receipt} was never posted")


@pytest.fixture
def daraja(stack_factory: Callable[..., Stack], monkeypatch: pytest.MonkeyPatch) -> Iterator[Daraja]:
    simulator = DarajaSimulator().start()
    # The simulator posts its callbacks from 127.0.0.2: the one address allowed, as Safaricom's are.
    stack = stack_factory(Daraja="Enabled", DarajaBaseUrl=simulator.url, SafaricomCallbackIps=CALLBACKS_FROM)
    stack.client("secretsmanager").put_secret_value(
        SecretId=stack.topology.ref("DarajaSecret"),
        SecretString=json.dumps(simulator.platform.secret()),
    )
    webhooks = load_function(stack, "webhooks", monkeypatch)
    front = ApiFront(routes_from(stack.topology.functions), lambda name, event: webhooks(event), 0).start()
    # A callback here comes in milliseconds: the pull gives it no grace (five minutes deployed).
    pull = load_function(stack, "daraja_pull", monkeypatch, DARAJA_PULL_GRACE_SECONDS="0")
    token = json.loads(
        stack.client("secretsmanager").get_secret_value(SecretId=stack.topology.ref("DarajaCallbackSecret"))[
            "SecretString"
        ]
    )["token"]
    _register(stack, simulator, CallbackUrls.at(front.url, token))
    yield Daraja(stack, simulator, front, pull)
    front.stop()
    simulator.stop()


def _register(stack: Stack, simulator: DarajaSimulator, urls: CallbackUrls) -> None:
    from tuma.adapters.http import Urllib3Http
    from tuma.daraja.client import DarajaClient
    from tuma.models.daraja_credentials import DarajaCredentials
    from tuma.services.daraja_setup import register

    credentials = DarajaCredentials.model_validate(simulator.platform.secret())
    steps = register(
        DarajaClient(simulator.url, lambda: credentials, Urllib3Http(2, 5)),
        credentials,
        urls,
        version="v2",
        response_type="Completed",
    )
    assert {s.result.outcome for s in steps} == {"registered"}


def _sms(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    sender = load_function(stack, "outbox_sender", monkeypatch)
    poller = outbox_poller(stack, sender)
    while poller.poll_once().received:
        pass
    texts: dict[str, list[str]] = {}
    for sms in stack.outbox():
        texts.setdefault(sms["message"].split(" ")[0], []).append(sms["message"])
    return texts


def _waiting(stack: Stack) -> dict[str, int]:
    sqs = stack.client("sqs")
    return {
        name: int(
            sqs.get_queue_attributes(
                QueueUrl=stack.topology.resources[name]["QueueUrl"],
                AttributeNames=["ApproximateNumberOfMessages"],
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
        for name in ("FastOutboxQueue", "OutboxQueue")
    }


def test_a_payment_whose_callback_was_dropped_gets_one_receipt_learnt_by_pull(
    daraja: Daraja, monkeypatch: pytest.MonkeyPatch
) -> None:
    daraja.simulator.platform.configure({"late_seconds": 3})
    daraja.pay("QKDELIVER1", "deliver")
    daraja.pay("QKDROPPED1", "drop")
    daraja.pay("QKLATE0001", "late")  # posted after 3 s: after the pull found it
    daraja.wait_posted("QKDELIVER1")
    assert daraja.pull(SCHEDULE)["pulled"] is True
    # What the pull recovered waits in the outbox lane: the fast lane stays free for live receipts.
    assert _waiting(daraja.stack) == {"FastOutboxQueue": 1, "OutboxQueue": 2}
    sent = _sms(daraja.stack, monkeypatch)
    daraja.wait_posted("QKLATE0001")
    sent_after = _sms(daraja.stack, monkeypatch)
    assert {k: len(v) for k, v in sent_after.items()} == {"QKDELIVER1": 1, "QKDROPPED1": 1, "QKLATE0001": 1}
    assert sent == sent_after  # the late callback sent nothing more
    assert sent["QKDROPPED1"] == [
        "QKDROPPED1 confirmed. We have received KES 150.00 for account INV-1 on "
        + sent["QKDROPPED1"][0].split(" on ")[1]
    ]
    sources = {e["idempotency_key"]: e["source"] for e in daraja.stack.ledger()}
    assert sources == {"QKDELIVER1": "c2b", "QKDROPPED1": "pull", "QKLATE0001": "pull"}
    record = daraja.stack.payment_record("QKLATE0001")
    assert record is not None and record["sources"] == {"pull", "c2b"} and record["first_source"] == "pull"
    # Daraja's OAuth token, a bearer for every payer's data for its hour, is in no table (issue 31).
    state = daraja.stack.client("dynamodb").scan(TableName=daraja.stack.topology.ref("StateTable"))["Items"]
    assert [i["name"]["S"] for i in state if "token" in i["name"]["S"]] == []
    assert len(daraja.simulator.platform.tokens) >= 1  # the pull got one, and kept it in memory


@pytest.mark.parametrize("fault", ["500", "401", "garbage", "down", "slow"])
def test_daraja_misbehaving_keeps_the_window_and_the_next_run_recovers_it(
    daraja: Daraja, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    daraja.pay("QKFAULT001", "drop")
    httpx.post(
        f"{daraja.simulator.url}/_sandbox/faults", json={"kind": fault, "count": 2, "slow_seconds": 0.5}
    ).raise_for_status()
    monkeypatch.setenv("DARAJA_TIMEOUT", "0.2")  # read at init: a pull job that gives up on a slow page
    pull = load_function(daraja.stack, "daraja_pull", monkeypatch)
    answer = pull(SCHEDULE)
    assert answer["pulled"] is False and answer["runs"][0]["failure"]
    assert "until" not in (daraja.state(checkpoint_name("600000")) or {})
    assert _sms(daraja.stack, monkeypatch) == {}
    httpx.delete(f"{daraja.simulator.url}/_sandbox/faults").raise_for_status()
    healed = pull(SCHEDULE)
    assert healed["pulled"] is True and healed["runs"][0]["recovered"] == 1
    assert {k: len(v) for k, v in _sms(daraja.stack, monkeypatch).items()} == {"QKFAULT001": 1}


def test_a_transaction_status_answer_sends_the_receipt_of_a_payment_tuma_never_saw(
    daraja: Daraja, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuma.adapters.dynamodb_ledger import DynamoDBLedger
    from tuma.adapters.http import Urllib3Http
    from tuma.daraja.client import DarajaClient
    from tuma.models.daraja_credentials import DarajaCredentials
    from tuma.services.status_queries import StatusQueries

    daraja.pay("QKASKED001", "drop")
    credentials = DarajaCredentials.model_validate(daraja.simulator.platform.secret())
    token = daraja.simulator.platform.registered["600000"]["confirmation"].rsplit("/", 1)[1]
    urls = CallbackUrls.at(daraja.front.url, token)
    client = DarajaClient(daraja.simulator.url, lambda: credentials, Urllib3Http(2, 5))
    ledger = DynamoDBLedger(daraja.stack.client("dynamodb"), daraja.stack.topology.ref("LedgerTable"))
    queries = StatusQueries(client, ledger)
    # Asked about without Tuma recording it (someone else's request): its answer changes nothing.
    assert client.ask_status("QKFORGED01", "600000", urls.status_result).outcome == "accepted"
    assert queries.ask("QKASKED001", "600000", urls.status_result).outcome == "accepted"
    assert queries.ask("QKASKED001", "600000", urls.status_result).outcome == "accepted"  # asked twice
    assert queries.ask("QKNOTHERE1", "600000", urls.status_result).outcome == "accepted"
    time.sleep(0.5)
    daraja.wait_for_callbacks()
    assert {k: len(v) for k, v in _sms(daraja.stack, monkeypatch).items()} == {"QKASKED001": 1}
    [entry] = [e for e in daraja.stack.ledger() if e["idempotency_key"] == "QKASKED001"]
    assert entry["source"] == "status-query"
    answers = {
        e["idempotency_key"]: e
        for e in daraja.stack.ledger(with_payments=True)
        if e["recipient_ref"] == "#status-answer"
    }
    assert answers["QKASKED001"]["transaction_status"] == "Completed"
    assert answers["QKNOTHERE1"]["result_code"] == "R000002"
    assert "QKFORGED01" not in answers
    # Pull finds it later: known, so nothing more is sent.
    assert daraja.pull(SCHEDULE)["runs"][0]["recovered"] == 0
    assert {k: len(v) for k, v in _sms(daraja.stack, monkeypatch).items()} == {"QKASKED001": 1}
