"""Domain rules of the event sources, without AWS: payers, signatures, the gate, reports, the stream."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import SecretStr
from tuma.models.api_keys import ApiKey, Scope
from tuma.models.ledger import Status
from tuma.models.payments import InvalidPayment
from tuma.runtime.routes import Auth, Routes
from tuma.runtime.webhook_gate import Rejection, WebhookGate
from tuma.security.addresses import Addresses
from tuma.services.delivery_reports import OUTCOMES, outcome_of
from tuma.services.payment_stream import Attributes, completed_payment
from tuma.services.recipients import resolve

from tests.unit.fakes import MemoryApiKeys, MemoryDirectory, MemoryReplayGuard, StaticWebhookSecrets
from tuma_cli.api_signing import ApiKeyCredentials, signature_headers
from tuma_cli.local.stream_poller import matches

TOKEN = "t" * 32
KEY = "k" * 32
API_KEY = ApiKeyCredentials("tk_test0001", "s" * 40)
SAFARICOM = "196.201.214.200"
DARAJA_ADDRESSES = Addresses("196.201.214.200, 196.201.212.0/24")


OK = {200: ("done", "Problem")}


def test_payer_resolution() -> None:
    assert resolve("254708374149", None, None).recipient == "254708374149"
    assert resolve("a" * 64, None, None).recipient == "a" * 64
    masked = resolve("2547 ***** 126", "INV-1", MemoryDirectory({"INV-1": "0722000126"}))
    assert masked.recipient == "254722000126"
    assert masked.received is not None and masked.received.masked == "2547 ***** 126"
    unresolved = resolve("25470****149", "INV-2", MemoryDirectory({}))
    assert unresolved.recipient is None
    assert unresolved.reason == "M-Pesa masked the payer's number, and no customer record matches the account"
    assert resolve(None, None, None).reason == (
        "the payment carried no phone number, and no customer directory is configured"
    )
    assert "unusable" in (resolve("0712", "A", MemoryDirectory({"A": "not a phone"})).reason or "")


def _event(
    path: str,
    body: bytes = b"{}",
    method: str = "POST",
    headers: dict[str, str] | None = None,
    encoded: bool = False,
    source_ip: str = SAFARICOM,
) -> dict[str, Any]:
    text = base64.b64encode(body).decode() if encoded else body.decode("utf-8", "replace")
    return {
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "body": text,
        "isBase64Encoded": encoded,
        "requestContext": {"identity": {"sourceIp": source_ip}},
    }


def _refused(gate: WebhookGate, event: dict[str, Any]) -> Rejection:
    rejection = gate.check(event)
    assert rejection is not None
    return rejection


def _routes() -> Routes:
    """A route of each kind, declared as functions/webhooks declares its own."""
    routes = Routes(APIGatewayRestResolver())
    routes.add("post", "/payments/stk/<token>", auth=Auth.DARAJA, answers=OK)(lambda token: {})
    routes.add("post", "/delivery-reports/<token>", auth=Auth.PROVIDER, answers=OK)(lambda token: {})
    routes.add("post", "/payments", auth=Auth.SIGNATURE, scope=Scope.PAYMENTS, answers=OK)(lambda: {})
    routes.add("post", "/alerts", auth=Auth.SIGNATURE, scope=Scope.ALERTS, answers=OK)(lambda: {})
    routes.add("post", "/suppressions/remove", auth=Auth.SIGNATURE, scope=Scope.PRIVACY, answers=OK)(
        lambda: {}
    )
    routes.add("get", "/messages/<key>", auth=Auth.SIGNATURE, scope=Scope.MESSAGES_READ, answers=OK)(
        lambda key: {}
    )
    routes.add("delete", "/messages/<key>", auth=Auth.SIGNATURE, scope=Scope.MESSAGES_CANCEL, answers=OK)(
        lambda key: {}
    )
    return routes


def _gate(
    secrets: StaticWebhookSecrets | None = None,
    now: float = 1000,
    keys: MemoryApiKeys | None = None,
    replay: MemoryReplayGuard | None = None,
) -> WebhookGate:
    secrets = secrets or StaticWebhookSecrets(TOKEN, KEY)
    return WebhookGate(
        _routes(),
        secrets,
        keys=keys or MemoryApiKeys.one(API_KEY.key_id, API_KEY.secret),
        replay=replay or MemoryReplayGuard(),
        max_body=2048,
        clock=lambda: now,
        daraja_addresses=DARAJA_ADDRESSES,
    )


def _signed_event(
    method: str, path: str, body: bytes = b"", key: ApiKeyCredentials | None = None, **kwargs: Any
) -> dict[str, Any]:
    """A request signed as a business's RFC 9421 library signs it, sent through the stage /v1."""
    headers = signature_headers(
        key or API_KEY,
        method,
        f"https://api.example.com/v1{path}",
        body or None,
        created=datetime.fromtimestamp(1000, UTC),
        **kwargs,
    )
    event = _event(path, body, method=method, headers=headers, source_ip="10.1.2.3")
    event["requestContext"]["path"] = f"/v1{path}"
    return event


def test_the_gate_orders_its_checks() -> None:
    gate = _gate()
    assert _refused(gate, _event(f"/payments/stk/{TOKEN}", b"not json")).status == 400
    assert (
        _refused(gate, _event("/payments/stk/nope", b"not json")).status == 404
    )  # the token first, whatever the body
    assert gate.check(_event(f"/payments/stk/{TOKEN}", b"{}")) is None
    assert _refused(gate, _event(f"/payments/stk/{TOKEN}", b"x" * 3000)).status == 413
    assert gate.check(_event(f"/delivery-reports/{TOKEN}/", b"{}")) is None
    bad = _event(f"/payments/stk/{TOKEN}")
    bad.update({"body": "@@@", "isBase64Encoded": True})
    assert _refused(gate, bad).status == 400
    assert gate.check(_event(f"/payments/stk/{TOKEN}", b'{"a":1}', encoded=True)) is None
    assert _refused(gate, _event("/payments", b'{"a":1}')).status == 401  # unsigned: not even parsed
    assert _refused(gate, _signed_event("POST", "/payments", b"[1]")).status == 400  # signed, not an object
    # A path no route declares ends here, before any handler, whatever the router knows.
    assert _refused(gate, _event("/somewhere/else")).status == 404
    assert _refused(gate, _event(f"/payments/stk/{TOKEN}/more")).status == 404
    assert (
        _refused(gate, _event(f"/payments/stk/{TOKEN}", method="GET")).allow == "POST"
    )  # token, then method
    assert _refused(gate, _event("/payments/stk/nope", method="GET")).status == 404
    assert _refused(gate, _event("/messages/INV-1", method="PUT")).allow == "GET, DELETE"
    assert _refused(gate, _event("/messages/INV-1", b"", method="GET")).status == 401
    assert gate.check(_signed_event("DELETE", "/messages/INV-1")) is None


def test_a_key_is_worth_only_its_scopes_its_route_and_one_use() -> None:
    alerts_only = MemoryApiKeys.one("tk_alerts001", "a" * 40, frozenset({Scope.ALERTS}))
    replay = MemoryReplayGuard()
    gate = _gate(keys=alerts_only, replay=replay)
    key = ApiKeyCredentials("tk_alerts001", "a" * 40)
    body = b'{"number": "0712345678"}'
    assert gate.check(_signed_event("POST", "/alerts", b'{"text": "disk full"}', key)) is None
    for path in ("/payments", "/suppressions/remove"):
        refused = _refused(gate, _signed_event("POST", path, body, key))
        assert (refused.status, refused.error) == (
            403,
            f"API key tk_alerts001 does not hold the {path_scope(path)} scope",
        )
    # Signed for one route, sent to another: the signature covers the path.
    moved = _signed_event("POST", "/alerts", body, key)
    moved["path"], moved["requestContext"]["path"] = "/suppressions/remove", "/v1/suppressions/remove"
    assert _refused(gate, moved).error == "signature does not match this request"
    # The same request twice: the second is refused, whatever it says.
    once = _signed_event("POST", "/alerts", b'{"text": "again"}', key, nonce="n" * 16)
    assert gate.check(once) is None
    assert "already used" in _refused(gate, once).error
    assert list(replay.used) == [next(iter(replay.used)), "tk_alerts001#" + "n" * 16]
    assert replay.used["tk_alerts001#" + "n" * 16] == 1000 + 300 + 60


def test_a_read_signature_replayed_as_delete_is_refused() -> None:
    gate = _gate()
    read = _signed_event("GET", "/messages/alert:42")
    read["httpMethod"] = "DELETE"
    assert _refused(gate, read).error == "signature does not match this request"


def test_an_unknown_or_expired_key_is_refused_and_an_unknown_one_read_again_first() -> None:
    keys = MemoryApiKeys.one()
    gate = _gate(keys=keys)
    stranger = ApiKeyCredentials("tk_nobody01", "z" * 40)
    assert "never made, or revoked" in _refused(gate, _signed_event("POST", "/alerts", b"{}", stranger)).error
    assert keys.fresh_reads == 1  # a key made a moment ago is found by reading the set again
    expired = MemoryApiKeys(
        ApiKey(
            id="tk_old00001",
            secret=SecretStr("o" * 40),
            scopes=frozenset(Scope),
            created_at=datetime.fromtimestamp(0, UTC),
            expires_at=datetime.fromtimestamp(999, UTC),
        )
    )
    old = ApiKeyCredentials("tk_old00001", "o" * 40)
    assert _refused(_gate(keys=expired), _signed_event("POST", "/alerts", b"{}", old)).error == (
        "API key tk_old00001 has expired"
    )


def path_scope(path: str) -> str:
    return {"/payments": "payments", "/suppressions/remove": "privacy"}[path]


def test_a_route_cannot_be_declared_without_its_authentication() -> None:
    routes = Routes(APIGatewayRestResolver())
    with pytest.raises(TypeError):
        routes.add("post", "/open")(lambda: {})  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="auth must be an Auth"):
        routes.add("post", "/open", auth="none")(lambda: {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs <token>"):
        routes.add("post", "/results/<key>", auth=Auth.DARAJA, answers=OK)(lambda key: {})
    with pytest.raises(ValueError, match="declare what the route answers"):
        routes.add("post", "/results", auth=Auth.SIGNATURE, scope=Scope.ALERTS)(lambda: {})
    with pytest.raises(ValueError, match="names its scope"):
        routes.add("post", "/results", auth=Auth.SIGNATURE, answers=OK)(lambda: {})
    with pytest.raises(ValueError, match="names its scope"):
        routes.add("post", "/r/<token>", auth=Auth.PROVIDER, scope=Scope.ALERTS, answers=OK)(lambda token: {})
    with pytest.raises(ValueError, match="module:Model"):  # a body's model is named where it lives
        routes.add("post", "/r/<token>", auth=Auth.PROVIDER, answers=OK, body="tuma.models.mpesa.PullNotice")
    assert routes.declared == ()


def test_a_routes_model_is_imported_with_its_first_request_and_must_be_a_model() -> None:
    from tuma.models.mpesa import PullNotice
    from tuma.runtime.routes import model_of

    assert model_of("tuma.models.mpesa:PullNotice") is PullNotice
    with pytest.raises(TypeError, match="not a pydantic model"):
        model_of("tuma.models.mpesa:CONFIRMED")
    with pytest.raises(AttributeError):
        model_of("tuma.models.mpesa:NoSuchModel")


def test_a_daraja_callback_from_anywhere_but_safaricom_is_refused_whatever_its_token() -> None:
    gate = _gate()
    for address in ("127.0.0.1", "196.201.214.201", "", "not an address"):
        refused = _refused(gate, _event(f"/payments/stk/{TOKEN}", source_ip=address))
        assert (refused.status, refused.metric) == (403, "DarajaCallbacksRefused")
        assert refused.refused == (address, "/payments/stk/{token}")  # logged: the address, never the path
        assert _refused(gate, _event("/payments/stk/nope", source_ip=address)).status == 403
    # A header cannot lend an address: API Gateway's view of the connection is the only one read.
    forged = _event(f"/payments/stk/{TOKEN}", source_ip="10.0.0.9", headers={"X-Forwarded-For": SAFARICOM})
    assert _refused(gate, forged).status == 403
    assert gate.check(_event(f"/payments/stk/{TOKEN}", source_ip="196.201.212.69")) is None  # a network
    # The provider's reports come from wherever its servers are: the address is not checked.
    assert gate.check(_event(f"/delivery-reports/{TOKEN}", source_ip="10.0.0.9")) is None
    assert (
        _refused(
            WebhookGate(
                _routes(), StaticWebhookSecrets(TOKEN, KEY), keys=MemoryApiKeys(), replay=MemoryReplayGuard()
            ),
            _event(f"/payments/stk/{TOKEN}"),
        ).status
        == 403
    )


def test_each_caller_has_its_own_token_and_a_rotated_one_stays_accepted_for_its_grace() -> None:
    from datetime import UTC, datetime, timedelta

    from pydantic import SecretStr
    from tuma.models.callback_tokens import CallbackToken, Caller

    now = datetime.fromtimestamp(1000, UTC)
    daraja = CallbackToken(token=SecretStr("d" * 40), legacy=True)
    provider = CallbackToken(token=SecretStr("p" * 40))
    secrets = StaticWebhookSecrets(TOKEN, KEY, callers={Caller.DARAJA: daraja, Caller.PROVIDER: provider})
    gate = _gate(secrets)
    assert gate.check(_event(f"/payments/stk/{'d' * 40}")) is None
    assert gate.check(_event(f"/payments/stk/{TOKEN}")) is None  # the stack's first token, until rotated
    assert _refused(gate, _event(f"/payments/stk/{'p' * 40}")).status == 404  # another caller's token
    assert gate.check(_event(f"/delivery-reports/{'p' * 40}")) is None
    assert _refused(gate, _event(f"/delivery-reports/{TOKEN}")).status == 404  # not legacy: refused
    assert _refused(gate, _event(f"/delivery-reports/{'d' * 40}")).status == 404

    secrets.callers[Caller.DARAJA] = daraja.rotated("n" * 40, now, timedelta(hours=1), TOKEN)
    assert gate.check(_event(f"/payments/stk/{'n' * 40}")) is None
    assert gate.check(_event(f"/payments/stk/{'d' * 40}")) is None  # in its grace
    assert gate.check(_event(f"/payments/stk/{TOKEN}")) is None
    later = _gate(secrets, now=1000 + 3601)
    assert later.check(_event(f"/payments/stk/{'n' * 40}")) is None
    assert _refused(later, _event(f"/payments/stk/{'d' * 40}")).status == 404  # its grace is over
    assert _refused(later, _event(f"/payments/stk/{TOKEN}")).status == 404
    # Rotated again later, the long-retired tokens are gone from the secret.
    again = secrets.callers[Caller.DARAJA].rotated("m" * 40, now + timedelta(hours=2), timedelta(hours=1))
    assert [old.token.get_secret_value() for old in again.previous] == ["n" * 40]


def test_rejections_are_api_gateway_responses() -> None:
    rejection = _gate().check(_event("/payments/stk/x"))
    assert rejection is not None
    response = rejection.response()
    assert response["statusCode"] == 404 and json.loads(response["body"]) == {"error": "not found"}


@pytest.mark.parametrize(
    ("description", "status", "kind"),
    [
        ("DeliveredToTerminal", Status.DELIVERED, "delivered"),
        ("SenderName Blacklisted", Status.FAILED, "final_failure"),
        ("sendername  blacklisted", Status.FAILED, "final_failure"),
        ("AbsentSubscriber", Status.FAILED, "final_failure"),
        ("SentToNetwork", Status.SENT, "in_progress"),
        ("Scheduled", Status.SENT, "in_progress"),
        ("Something new", Status.SENT, "unknown"),
    ],
)
def test_delivery_statuses(description: str, status: Status, kind: str) -> None:
    outcome = outcome_of(description)
    assert (outcome.status, outcome.kind.value) == (status, kind)


def test_an_unknown_description_never_replaces_anything_the_table_knows() -> None:
    assert outcome_of("Something new").rank < min(o.rank for o in OUTCOMES.values())


def test_every_documented_delivery_status_is_known_and_final_ones_outrank_the_rest() -> None:
    from tests.conftest import shared_fixture

    documented = [s["description"] for s in shared_fixture("provider/delivery_statuses.json")["statuses"]]
    ranks = {d: outcome_of(d).rank for d in documented}
    assert all(rank > 1 or d == "Scheduled" for d, rank in ranks.items())
    assert ranks["DeliveredToTerminal"] > max(r for d, r in ranks.items() if d != "DeliveredToTerminal")
    assert ranks["AbsentSubscriber"] > ranks["SentToNetwork"] > ranks["Scheduled"]


def test_completed_payment_rules() -> None:
    attrs = Attributes()
    item = {
        "payment_id": "p",
        "status": "COMPLETED",
        "amount": Decimal("10"),
        "phone": "0712345678",
        "reference": "R1",
    }
    payment = completed_payment("INSERT", None, item, attrs)
    assert payment is not None and payment.reference == "R1"
    assert completed_payment("MODIFY", item | {"status": "PENDING"}, item, attrs) is not None
    assert completed_payment("MODIFY", item, item | {"name": "x"}, attrs) is None
    assert completed_payment("REMOVE", item, None, attrs) is None
    assert completed_payment("INSERT", None, item | {"status": "PENDING"}, attrs) is None
    with pytest.raises(InvalidPayment) as caught:
        completed_payment("INSERT", None, {"payment_id": "p", "status": "COMPLETED"}, attrs)
    assert caught.value.key == "payment:p"


def test_attribute_map_from_the_environment() -> None:
    from tuma.errors import ConfigurationError
    from tuma.runtime.settings import load
    from tuma.runtime.settings.payment_stream import StreamSettings

    base = {"OUTBOX_QUEUE_URL": "q", "LEDGER_TABLE": "t"}
    settings = load(
        StreamSettings,
        base | {"PAYMENTS_ATTRIBUTES": '{"phone": "msisdn"}', "PAYMENTS_COMPLETED_STATUS": "PAID"},
    )
    attrs = settings.attributes()
    assert (attrs.phone, attrs.completed, attrs.status) == ("msisdn", "PAID", "status")
    with pytest.raises(ConfigurationError, match="PAYMENTS_ATTRIBUTES"):
        load(StreamSettings, base | {"PAYMENTS_ATTRIBUTES": '{"colour": "x"}'})
    with pytest.raises(ConfigurationError, match="PAYMENTS_ATTRIBUTES"):
        load(StreamSettings, base | {"PAYMENTS_ATTRIBUTES": "not json"})


def test_lambda_filter_patterns() -> None:
    pattern = {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["COMPLETED"]}}}}
    record = {"eventName": "MODIFY", "dynamodb": {"NewImage": {"status": {"S": "COMPLETED"}}}}
    assert matches(pattern, record)
    assert not matches(pattern, record | {"eventName": "REMOVE"})
    assert not matches(
        pattern, {"eventName": "INSERT", "dynamodb": {"NewImage": {"status": {"S": "PENDING"}}}}
    )
    assert not matches(pattern, {"eventName": "INSERT", "dynamodb": {}})
    assert matches({"a": [{"exists": False}]}, {})
    assert matches({"a": [{"prefix": "CO"}]}, {"a": "COMPLETED"})
    assert matches({"a": [{"anything-but": ["X"]}]}, {"a": "Y"})
    assert not matches({"a": [{"anything-but": "X"}]}, {"a": "X"})


def test_api_routes_match_like_api_gateway() -> None:
    from tuma_cli.local.api_front import ApiRoute

    route = ApiRoute.of("POST", "/payments/stk/{token}", "webhooks")
    matched = route.pattern.match("/payments/stk/abc")
    assert matched is not None and matched.groupdict() == {"token": "abc"}
    assert route.pattern.match("/payments/stk/abc/") is not None
    assert route.pattern.match("/payments/stk/") is None
    assert route.pattern.match("/payments/stk/a/b") is None


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": None},
        {"Records": "not a list"},
        {"Records": [None, 7, "x", []]},
        {"Records": [{"attributes": "x", "dynamodb": "x", "eventName": 5}]},
        {"Records": [{"dynamodb": {"NewImage": "x", "SequenceNumber": 1}}]},
    ],
)
def test_an_envelope_aws_could_not_have_sent_is_read_without_a_crash(event: dict[str, Any]) -> None:
    from tuma.runtime.events import sqs_messages, stream_records

    for message in sqs_messages(event):
        assert message.receive_count == 1 and message.group_id == ""
    for record in stream_records(event):
        assert record.event_name is None and record.sequence_number is None
        if record.raw.get("NewImage"):
            with pytest.raises(TypeError):  # the handlers record it as malformed, with the reason
                record.images()
        else:
            assert record.images() == (None, None, None)
