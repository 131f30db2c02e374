"""functions/webhooks with every Daraja fixture, signatures, tokens, DLRs, against moto and the simulator."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ROOT, shared_fixture
from tests.integration.conftest import Stack, load_function, outbox_poller
from tests.integration.webhook_client import Answer, WebhookClient
from tuma_cli.api_signing import ApiKeyCredentials

pytestmark = pytest.mark.integration


@pytest.fixture
def hooks(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> WebhookClient:
    return WebhookClient.create(stack, load_function(stack, "webhooks", monkeypatch))


def _drain(stack: Stack, monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, str]:
    sender = load_function(stack, "outbox_sender", monkeypatch, **env)
    poller = outbox_poller(stack, sender)
    while poller.poll_once().received:
        pass
    return {m["mobile"]: m["message"] for m in stack.outbox()}


def _ledger(stack: Stack) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["idempotency_key"], e["status"]): e for e in stack.ledger()}


# -- Daraja C2B ---------------------------------------------------------------------------------------


def test_c2b_confirmation_queues_the_receipt_and_answers_daraja(
    stack: Stack, hooks: WebhookClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = hooks.daraja(
        "c2b/confirmation", shared_fixture("mpesa/c2b_confirmation_request_legacy_docs.json")
    )
    assert (answer.status, answer.body) == (200, {"ResultCode": 0, "ResultDesc": "Accepted"})
    [queued] = hooks.queued()
    assert queued["idempotency_key"] == "LGR219G3EY" and queued["to"] == ["254708374149"]
    assert _drain(stack, monkeypatch) == {
        "254708374149": "LGR219G3EY confirmed. We have received KES 10.00 from John Doe for account xyz "
        "on 27/07/2017 10:42. Thank you."
    }


@pytest.mark.parametrize(
    "name",
    [
        "c2b_callback_v1_registerurl_masked_msisdn_official.json",
        "c2b_callback_v2_masked_msisdn_official.json",
    ],
)
def test_c2b_with_a_masked_number_and_no_directory_is_undeliverable(
    stack: Stack, hooks: WebhookClient, name: str
) -> None:
    payload = shared_fixture(f"mpesa/{name}")
    answer = hooks.daraja("c2b/confirmation", payload)
    assert answer.status == 200 and answer.body["ResultCode"] == 0
    assert hooks.queued() == []
    [entry] = stack.ledger()
    assert entry["idempotency_key"] == payload["TransID"]
    assert entry["status"] == "UNDELIVERABLE"
    assert entry["reason"] == "M-Pesa masked the payer's number, and no customer directory is configured"
    assert entry["recipient"] == payload["MSISDN"]  # masked at the source already


def test_c2b_with_a_masked_number_resolved_through_the_customer_directory(
    stack_factory: Callable[..., Stack], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = stack_factory(CustomerLookup="Enabled")
    topology = stack.topology
    stack.client("dynamodb").put_item(
        TableName=topology.ref("CustomersTable"),
        Item={"account": {"S": "invoice008"}, "phone": {"S": "0722 000 149"}},
    )
    hooks = WebhookClient.create(stack, load_function(stack, "webhooks", monkeypatch))
    answer = hooks.daraja(
        "c2b/confirmation", shared_fixture("mpesa/c2b_callback_v1_registerurl_masked_msisdn_official.json")
    )
    assert answer.status == 200
    assert _drain(stack, monkeypatch) == {
        "254722000149": "RKTQDM7W6S confirmed. We have received KES 10.00 from John Doe for account invoice008 "
        "on 22/11/2019 06:38. Thank you."
    }
    # The second masked sample names an account the directory does not know.
    hooks.daraja("c2b/confirmation", shared_fixture("mpesa/c2b_callback_v2_masked_msisdn_official.json"))
    assert _ledger(stack)[("RKL51ZDR4F", "UNDELIVERABLE")]["reason"] == (
        "M-Pesa masked the payer's number, and no customer record matches the account"
    )


def test_c2b_with_a_hashed_number_goes_by_the_hashed_route_or_is_refused_without_a_receipt_number(
    stack: Stack, hooks: WebhookClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    minimal = shared_fixture("mpesa/c2b_callback_hashed_msisdn_minimised_2023.json")
    # The minimised sample has no TransID or amount: Daraja is acknowledged, nothing is sent, and the
    # rejection is recorded with the fields that were missing.
    answer = hooks.daraja("c2b/confirmation", minimal)
    assert (answer.status, answer.body) == (200, {"ResultCode": 0, "ResultDesc": "Accepted"})
    assert hooks.queued() == []
    [rejected] = stack.ledger()
    assert rejected["status"] == "REJECTED" and rejected["idempotency_key"].startswith("c2b:")
    assert rejected["reason"].startswith("C2B confirmation cannot make a receipt: TransID: required")
    assert "TransAmount" in rejected["reason"]

    full = shared_fixture("mpesa/c2b_confirmation_request_legacy_docs.json") | {"MSISDN": minimal["MSISDN"]}
    assert hooks.daraja("c2b/confirmation", full).status == 200
    _drain(stack, monkeypatch)
    [sms] = stack.outbox()
    assert sms["route"] == "hashed" and sms["mobile"] == minimal["MSISDN"]


def test_c2b_validation_accepts_without_an_account_check_and_sends_nothing(hooks: WebhookClient) -> None:
    expected = shared_fixture("mpesa/c2b_validation_response_accept_official.json")
    for name in ("c2b_validation_request_legacy_docs.json", "c2b_callback_hashed_msisdn_minimised_2023.json"):
        answer = hooks.daraja("c2b/validation", shared_fixture(f"mpesa/{name}"))
        assert (answer.status, answer.body) == (200, expected)
    assert hooks.queued() == []


def test_c2b_validation_rejects_an_unknown_account_when_checking(
    stack_factory: Callable[..., Stack], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = stack_factory(CustomerLookup="Enabled", C2BAccountCheck="true")
    topology = stack.topology
    stack.client("dynamodb").put_item(
        TableName=topology.ref("CustomersTable"), Item={"account": {"S": "xyz"}}
    )
    hooks = WebhookClient.create(stack, load_function(stack, "webhooks", monkeypatch))
    request = shared_fixture("mpesa/c2b_validation_request_legacy_docs.json")
    assert hooks.daraja("c2b/validation", request).body == {"ResultCode": "0", "ResultDesc": "Accepted"}
    rejected = hooks.daraja("c2b/validation", request | {"BillRefNumber": "nobody"}).body
    reference = shared_fixture("mpesa/c2b_validation_response_reject_official.json")
    assert set(rejected) == set(reference) and rejected["ResultDesc"] == reference["ResultDesc"]
    codes = {
        c["ResultCode"]: c["ResultDesc"]
        for c in shared_fixture("mpesa/c2b_validation_result_codes_official.json")["result_codes"]
    }
    assert codes[rejected["ResultCode"]] == "Invalid Account Number"


# -- Daraja STK ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "receipt", "phone", "text"),
    [
        (
            "stk_callback_success_legacy_docs.json",
            "LGR7OWQX0R",
            "254721566839",
            "LGR7OWQX0R confirmed. We have received KES 1.00 on 27/07/2017 15:48. Thank you.",
        ),
        (
            "stk_callback_success_official.json",
            "NLJ7RT61SV",
            "254708374149",
            "NLJ7RT61SV confirmed. We have received KES 1.00 on 19/12/2019 10:21. Thank you.",
        ),
    ],
)
def test_stk_success_queues_the_receipt(
    stack: Stack,
    hooks: WebhookClient,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    receipt: str,
    phone: str,
    text: str,
) -> None:
    answer = hooks.daraja("stk", shared_fixture(f"mpesa/{name}"))
    assert (answer.status, answer.body) == (200, {"ResultCode": 0, "ResultDesc": "Accepted"})
    assert [q["idempotency_key"] for q in hooks.queued()] == [receipt]
    assert _drain(stack, monkeypatch) == {phone: text}


def test_stk_metadata_in_any_order_and_without_a_phone(stack: Stack, hooks: WebhookClient) -> None:
    callback = shared_fixture("mpesa/stk_callback_success_official.json")
    items = callback["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    callback["Body"]["stkCallback"]["CallbackMetadata"]["Item"] = [
        i for i in reversed(items) if i["Name"] != "PhoneNumber"
    ]
    assert hooks.daraja("stk", callback).status == 200
    assert hooks.queued() == []
    assert _ledger(stack)[("NLJ7RT61SV", "UNDELIVERABLE")]["reason"].startswith(
        "the payment carried no phone number"
    )


@pytest.mark.parametrize(
    "name", ["stk_callback_cancelled_1032_legacy_docs.json", "stk_callback_cancelled_1032_official.json"]
)
def test_a_cancelled_stk_payment_sends_nothing_and_is_recorded(
    stack: Stack, hooks: WebhookClient, name: str
) -> None:
    payload = shared_fixture(f"mpesa/{name}")
    answer = hooks.daraja("stk", payload)
    assert (answer.status, answer.body) == (200, {"ResultCode": 0, "ResultDesc": "Accepted"})
    assert hooks.queued() == []
    checkout = payload["Body"]["stkCallback"]["CheckoutRequestID"]
    entry = _ledger(stack)[(f"stk:{checkout}", "REJECTED")]
    assert entry["reason"].startswith("payment not completed: 1032")


@pytest.mark.parametrize(
    "result",
    [
        r
        for r in shared_fixture("mpesa/stk_result_codes_official.json")["result_codes"]
        if r["ResultCode"] != 0
    ],
    ids=lambda r: str(r["ResultCode"]),
)
def test_every_failure_code_numeric_or_not_sends_nothing(
    stack: Stack, hooks: WebhookClient, result: dict[str, Any]
) -> None:
    callback = copy.deepcopy(shared_fixture("mpesa/stk_callback_cancelled_1032_official.json"))
    callback["Body"]["stkCallback"].update(
        {"ResultCode": result["ResultCode"], "ResultDesc": result["ResultDesc"]}
    )
    assert hooks.daraja("stk", callback).status == 200
    assert hooks.queued() == []
    [entry] = stack.ledger()
    assert entry["reason"].startswith(f"payment not completed: {result['ResultCode']}")


def test_one_payment_seen_by_c2b_stk_and_the_stream_sends_one_sms(
    stack: Stack, hooks: WebhookClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    c2b = shared_fixture("mpesa/c2b_confirmation_request_legacy_docs.json") | {"TransID": "NLJ7RT61SV"}
    stk = shared_fixture("mpesa/stk_callback_success_official.json")
    assert hooks.daraja("c2b/confirmation", c2b).status == 200
    assert hooks.daraja("stk", stk).status == 200
    # The same payment recorded by the business in its payments table:
    from tests.integration.test_payment_stream import stream_event

    stream = load_function(stack, "payment_stream", monkeypatch)
    stack.client("dynamodb").put_item(
        TableName=stack.topology.ref("PaymentsTable"),
        Item={
            "payment_id": {"S": "p-1"},
            "status": {"S": "COMPLETED"},
            "amount": {"N": "10"},
            "phone": {"S": "0708 374 149"},
            "reference": {"S": "NLJ7RT61SV"},
            "name": {"S": "John"},
        },
    )
    assert stream(stream_event(stack)) == {"batchItemFailures": []}
    assert len(hooks.queued()) == 3
    _drain(stack, monkeypatch)
    assert [m["mobile"] for m in stack.outbox()] == ["254708374149"]
    assert [e["status"] for e in stack.ledger()] == ["SENT"]


# -- signed webhooks ------------------------------------------------------------------------------------

PAYMENT = {
    "reference": "INV-2024-001",
    "amount": "2500",
    "phone": "0712345678",
    "name": "Achieng",
    "account": "A-7",
}


def test_a_signed_payment_is_queued_with_202(
    stack: Stack, hooks: WebhookClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = hooks.signed("/payments", PAYMENT)
    assert answer.status == 202
    assert answer.body == {"status": "queued", "idempotency_key": "INV-2024-001"}
    assert _drain(stack, monkeypatch) == {
        "254712345678": "INV-2024-001 confirmed. We have received KES 2,500.00 from Achieng for account A-7. Thank you."
    }


def test_a_queue_aws_refuses_is_a_503_the_caller_can_retry(stack: Stack, hooks: WebhookClient) -> None:
    """The SQS adapter turns AWS's error into the domain's Unavailable: the handler knows no botocore."""
    sqs = stack.client("sqs")
    for name in ("FastOutboxQueue", "OutboxQueue"):
        sqs.delete_queue(QueueUrl=stack.topology.resources[name]["QueueUrl"])
    answer = hooks.signed("/payments", PAYMENT)
    assert (answer.status, answer.body) == (503, {"error": "temporarily unable to record the request; retry"})


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ({"key": ApiKeyCredentials("tk_abcdef12", "x" * 43)}, "no API key 'tk_abcdef12'"),
        ({"skew": -400}, "outside the 5-minute window"),  # the exact edge is a unit test with a fixed clock
        ({"skew": 400}, "outside the 5-minute window"),
    ],
)
def test_bad_signatures_and_replays_are_refused(
    hooks: WebhookClient, tamper: dict[str, Any], problem: str
) -> None:
    if "skew" in tamper:
        tamper = {"timestamp": int(time.time()) + tamper["skew"]}
    answer = hooks.signed("/payments", PAYMENT, **tamper)
    assert answer.status == 401 and problem in answer.body["error"]
    assert hooks.queued() == []


def test_a_tampered_body_or_missing_headers_are_refused(hooks: WebhookClient) -> None:
    raw = json.dumps(PAYMENT).encode()
    headers = hooks.signed_headers(raw, "/payments")
    assert hooks.post("/payments", raw.replace(b"2500", b"25000"), headers).status == 401
    assert hooks.post("/payments", raw).status == 401
    assert hooks.post("/alerts", raw, {"Signature-Input": "yesterday", "Signature": "x"}).status == 401
    assert hooks.queued() == []


def test_the_same_signed_request_twice_is_processed_once(hooks: WebhookClient) -> None:
    raw = json.dumps(PAYMENT).encode()
    headers = hooks.signed_headers(raw, "/payments", nonce="once-only-nonce-1")
    assert hooks.post("/payments", raw, headers).status == 202
    again = hooks.post("/payments", raw, headers)
    assert again.status == 401 and "already used" in again.body["error"]
    assert len(hooks.queued()) == 1


def test_a_signed_alert_goes_to_the_alert_recipients(
    stack: Stack, hooks: WebhookClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = hooks.signed(
        "/alerts", {"id": "42", "title": "Disk full", "host": "db-1", "severity": "critical"}
    )
    assert answer.status == 202 and answer.body["idempotency_key"] == "alert:42"
    assert hooks.signed("/alerts", {"id": "42", "title": "Disk full", "host": "db-1"}).status == 202  # resent
    phones = _drain(stack, monkeypatch, ALERT_RECIPIENTS="0722000000, 0733000000")
    assert phones == {
        "254722000000": "ALERT [CRITICAL]: Disk full on db-1",
        "254733000000": "ALERT [CRITICAL]: Disk full on db-1",
    }


def test_missing_fields_are_a_422_naming_them(hooks: WebhookClient) -> None:
    answer = hooks.signed("/payments", {"reference": "X1", "phone": "0712345678"})
    assert answer.status == 422
    assert [f["field"] for f in answer.body["fields"]] == ["amount"]
    answer = hooks.signed("/alerts", {"id": "1", "title": "x", "unexpected": True})
    assert answer.status == 422 and answer.body["fields"][0]["field"] == "unexpected"
    assert hooks.queued() == []


# -- tokens, bodies, sizes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "route", ["payments/c2b/validation", "payments/c2b/confirmation", "payments/stk", "delivery-reports"]
)
def test_a_wrong_token_is_404_and_records_nothing(stack: Stack, hooks: WebhookClient, route: str) -> None:
    body = shared_fixture("mpesa/c2b_confirmation_request_legacy_docs.json")
    for token in ["wrong", hooks.token[:-1], hooks.token + "x", ""]:
        answer = hooks.post(f"/{route}/{token}", body)
        assert answer.status == 404
    assert hooks.queued() == [] and stack.ledger() == []


def test_body_problems_are_clear_4xx(hooks: WebhookClient, monkeypatch: pytest.MonkeyPatch) -> None:
    path = f"/payments/c2b/confirmation/{hooks.token}"
    assert hooks.post(path, "not json").status == 400
    assert hooks.post(path, "[1, 2]").status == 400
    assert hooks.post(path, "").status == 400
    bad_base64 = hooks.event(path, "{}")
    bad_base64.update({"body": "%%% not base64 %%%", "isBase64Encoded": True})
    answer = hooks.send(bad_base64)
    assert answer.status == 400 and "base64" in answer.body["error"]
    good_base64 = hooks.post(
        path, shared_fixture("mpesa/c2b_confirmation_request_legacy_docs.json"), base64_body=True
    )
    assert good_base64.status == 200
    big = {"TransID": "X", "TransAmount": "1", "FirstName": "a" * 70_000}
    assert hooks.post(path, big).status == 413
    nested = "[" * 20_000 + "]" * 20_000  # 40 kB: within the size limit, beyond any parser's stack
    assert hooks.post(path, '{"a": ' + nested + "}").status == 400
    deep = hooks.post(
        path,
        json.dumps(
            {"TransID": "X", "x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
        ),
    )
    assert (deep.status, deep.body["error"]) == (400, "body nests deeper than 32 levels")
    ten = hooks.post(path, {"TransID": "X", "TransAmount": "ten"})  # acknowledged, recorded, not sent
    assert (ten.status, ten.body["ResultCode"]) == (200, 0)
    for method in ("GET", "PUT", "DELETE"):
        wrong_method = hooks.send(hooks.event(path, "{}", method=method))
        assert (wrong_method.status, wrong_method.headers["Allow"]) == (405, "POST")
    assert len(hooks.queued()) == 1  # only the valid base64 one


def test_every_route_declares_its_authentication_and_the_template_declares_the_same_routes(
    hooks: WebhookClient,
) -> None:
    import importlib

    from tuma.runtime.routes import Auth

    from tuma_cli.local.template import load

    module = importlib.import_module("tuma_function_webhooks_app")
    declared = {(route.method, route.resource): route.auth for route in module.routes.declared}
    assert all(isinstance(auth, Auth) for auth in declared.values())
    # Callers that cannot sign carry the token in the path; every other route is signed.
    assert {resource for (_, resource), auth in declared.items() if auth.caller is not None} == {
        resource for _, resource in declared if "{token}" in resource
    }
    template = load(ROOT / "template.yaml")
    in_template = {
        event["Properties"]["Path"]
        for event in template["Resources"]["WebhooksFunction"]["Properties"]["Events"].values()
        if event["Type"] == "Api"
    }
    assert in_template == {resource for _, resource in declared}


def test_a_handler_registered_past_the_declared_routes_never_runs(stack: Stack, hooks: WebhookClient) -> None:
    import importlib

    module = importlib.import_module("tuma_function_webhooks_app")
    ran: list[int] = []

    def sneaky() -> dict[str, bool]:
        ran.append(1)
        return {"ok": True}

    # As a route added to the resolver (and to template.yaml) but not through `routes.add` would be.
    module.app.post("/payments/sneaky")(sneaky)
    answer = hooks.post("/payments/sneaky", {"reference": "X1"})
    assert (answer.status, answer.body, ran) == (404, {"error": "not found"}, [])
    assert hooks.post("/payments/stk", {}).status == 404  # a declared route's prefix is not a route
    assert hooks.queued() == [] and stack.ledger() == []


# -- delivery reports ------------------------------------------------------------------------------------


def test_delivery_reports_move_statuses_forward_only(
    stack: Stack, hooks: WebhookClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert hooks.signed("/payments", PAYMENT).status == 202
    _drain(stack, monkeypatch)
    [entry] = stack.ledger()
    message_id = entry["provider_message_id"]
    path = f"/delivery-reports/{hooks.token}"
    report = shared_fixture("provider/advanta_dlr_callback.json") | {"messageid": message_id}

    assert hooks.post(path, report | {"description": "SentToNetwork"}).body == {"result": "applied"}
    assert stack.ledger()[0]["status"] == "SENT"
    assert hooks.post(path, report).body == {"result": "applied"}
    assert hooks.post(path, report).body == {"result": "stale"}  # the same report again
    assert hooks.post(path, report | {"description": "AbsentSubscriber"}).body == {"result": "stale"}  # late
    [entry] = stack.ledger()
    assert (entry["status"], entry["delivery_status"]) == ("DELIVERED", "DeliveredToTerminal")


def test_a_report_for_an_unknown_message_is_200(hooks: WebhookClient) -> None:
    answer = hooks.post(
        f"/delivery-reports/{hooks.token}", shared_fixture("provider/advanta_dlr_callback.json")
    )
    assert (answer.status, answer.body) == (200, {"result": "unknown"})
    bad = hooks.post(f"/delivery-reports/{hooks.token}", {"description": "x", "messageid": "../etc"})
    assert bad.status == 422


def test_the_simulator_reports_reach_the_ledger(
    stack: Stack, hooks: WebhookClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    stack.configure_sandbox(callback_url="http://127.0.0.1:9/unused", dlr_delay=0.01)
    assert hooks.signed("/payments", PAYMENT | {"phone": "0712345401"}).status == 202
    _drain(stack, monkeypatch)
    time.sleep(0.1)
    [sms] = httpx.get(f"{stack.sandbox.url}/_sandbox/outbox").json()
    report = {
        "description": sms["delivery_status"],
        "messageid": sms["messageid"],
        "timeTaken": "1s",
        "timestamp": sms["time"],
    }

    def with_provider(provider: str) -> Answer:
        event = hooks.event(f"/delivery-reports/{hooks.token}", report)
        event["queryStringParameters"] = {"provider": provider}
        event["multiValueQueryStringParameters"] = {"provider": [provider]}
        return hooks.send(event)

    # Message ids are the provider's own: the secondary never carried a message with this id.
    assert with_provider("secondary").body == {"result": "unknown"}
    bogus = with_provider("tertiary")
    assert bogus.status == 422 and bogus.body["fields"][0]["field"] == "provider"
    assert stack.ledger()[0]["status"] == "SENT"
    assert hooks.post(f"/delivery-reports/{hooks.token}", report).body == {"result": "applied"}
    [entry] = stack.ledger()
    assert (entry["status"], entry["delivery_status"]) == ("FAILED", "AbsentSubscriber")
    assert entry["provider"] == "primary"


# -- the published contract ------------------------------------------------------------------------------


def test_the_published_openapi_document_is_current(hooks: WebhookClient) -> None:
    import importlib

    module = importlib.import_module("tuma_function_webhooks_app")
    generated = json.loads(module.openapi_json(title="Tuma webhooks", version="1"))
    published = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert generated == published, "regenerate with: python scripts/openapi.py"
    paths = set(published["paths"])
    assert paths == {
        "/payments/c2b/validation/{token}",
        "/payments/c2b/confirmation/{token}",
        "/payments/stk/{token}",
        "/payments/status-results/{token}",
        "/payments/pull/{token}",
        "/payments",
        "/alerts",
        "/delivery-reports/{token}",
        "/messages/{key}",
        "/suppressions",
        "/suppressions/remove",
        "/consents",
        "/consents/withdraw",
    }
    forbidden = ("mpesa", "safaricom", "exe", "exec", "cmd", "sql", "query")
    assert not [p for p in paths for word in forbidden if word in p.lower()]


# -- defects the held-out corpus of odd inputs found (issue 21) -------------------------------------------


def test_text_that_is_not_unicode_is_cleaned_at_the_edge_and_the_receipt_goes_out(
    stack: Stack, hooks: WebhookClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `\ud83d` alone (half of a surrogate pair) is valid JSON but not text: it used to pass the webhook
    # and kill the receipt later as a "malformed outbox message".
    raw = (
        '{"TransID": "QKSURR0001", "TransAmount": "250.00", "MSISDN": "254712345678", '
        '"FirstName": "Ama\\ud83d", "BillRefNumber": "A\\udc00-9", "TransTime": "20261201101500"}'
    )
    assert hooks.post(f"/payments/c2b/confirmation/{hooks.token}", raw).status == 200
    signed = '{"reference": "INV-9\\ud800", "amount": "10", "phone": "0722345678", "name": "Otieno \\udfff"}'
    assert hooks.signed("/payments", signed.encode()).status == 202
    sent = _drain(stack, monkeypatch)
    assert sent["254712345678"].startswith(
        "QKSURR0001 confirmed. We have received KES 250.00 from Ama for account A -9"
    )
    assert sent["254722345678"] == "INV-9 confirmed. We have received KES 10.00 from Otieno. Thank you."
    statuses = {e["idempotency_key"]: e["status"] for e in stack.ledger()}
    assert statuses["QKSURR0001"] == "SENT" and "REJECTED" not in statuses.values()


def test_an_stk_callback_without_its_body_wrapper_is_read_or_recorded_never_dropped(
    stack: Stack, hooks: WebhookClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    success = shared_fixture("mpesa/stk_callback_success_official.json")
    unwrapped = success["Body"]  # {"stkCallback": {...}}: some gateways forward it without "Body"
    assert hooks.daraja("stk", unwrapped).body == {"ResultCode": 0, "ResultDesc": "Accepted"}
    assert (
        hooks.queued()[0]["idempotency_key"]
        == success["Body"]["stkCallback"]["CallbackMetadata"]["Item"][1]["Value"]
    )
    for body in ({"something": "else"}, {"Result": {"ResultCode": 0}}):
        assert hooks.daraja("stk", body).status == 200
    rejected = [e for e in stack.ledger() if e["status"] == "REJECTED"]
    assert len(rejected) == 2 and {e["idempotency_key"][:4] for e in rejected} == {"stk:"}
    assert all(e["reason"] == "STK callback has no Body.stkCallback: nothing to read" for e in rejected)


def test_a_delivery_report_tuma_does_not_know_keeps_its_text_and_claims_no_failure(
    stack: Stack, hooks: WebhookClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert hooks.signed("/payments", PAYMENT).status == 202
    _drain(stack, monkeypatch)
    [entry] = stack.ledger()
    for description in ("Rejected", "Expired", "Undelivered", "Failed to deliver: network says ERR_42"):
        answer = hooks.post(
            f"/delivery-reports/{hooks.token}",
            {
                "messageid": entry["provider_message_id"],
                "description": description,
                "timestamp": "2026-12-01 10:00:00",
            },
        )
        assert answer.body in ({"result": "applied"}, {"result": "stale"})
        [now] = stack.ledger()
        assert now["status"] == "SENT", description  # nothing concluded from a word Tuma does not know
        assert now["delivery_class"] == "unknown"
    assert now["delivery_description"] == "Rejected"  # the provider's own words, kept
    known = {"messageid": entry["provider_message_id"], "description": "DeliveredToTerminal"}
    assert hooks.post(f"/delivery-reports/{hooks.token}", known).body == {"result": "applied"}
    assert stack.ledger()[0]["status"] == "DELIVERED"  # a report Tuma knows replaces an unknown one
