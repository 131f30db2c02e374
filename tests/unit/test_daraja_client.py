"""Daraja's client against a scripted network: one token for many calls (shared, renewed before it
expires, never stampeded), answers read tolerantly, refusals turned into what mends them."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr
from tuma.daraja.client import DarajaClient, daraja_time
from tuma.daraja.tokens import MARGIN_SECONDS, Token, TokenCache
from tuma.models.daraja import DarajaFailure
from tuma.models.daraja_credentials import DarajaCredentials
from tuma.models.http import HttpAnswer, HttpFailure
from tuma.services.daraja_setup import CUSTOM_DOMAIN_FIX, CallbackUrls, register, url_problems

from tests.unit.fakes import MemoryStateStore, ScriptedHttp, reply

CREDENTIALS = DarajaCredentials(
    consumer_key=SecretStr("key-123456"),
    consumer_secret=SecretStr("secret-123456"),
    short_codes=("600000", "600001"),
    nominated_number="254722000000",
    initiator_name="apiop",
    security_credential=SecretStr("encrypted-credential"),
)
BASE = "https://daraja.example"


def _network(answers: dict[str, Any]) -> ScriptedHttp:
    """Answers by path; a callable answer gets the request body; OAuth always gives a token."""
    issued = iter(range(1, 1000))

    def answer(url: str, body: bytes) -> HttpAnswer | HttpFailure:
        path = url.removeprefix(BASE).split("?")[0]
        if path == "/oauth/v1/generate":
            return reply({"access_token": f"token-{next(issued)}", "expires_in": "3599"})
        found = answers[path]
        chosen: HttpAnswer | HttpFailure = found(json.loads(body)) if callable(found) else found
        return chosen

    return ScriptedHttp(answer)


def _client(http: ScriptedHttp, store: MemoryStateStore | None = None) -> DarajaClient:
    return DarajaClient(BASE, lambda: CREDENTIALS, http, store)


def test_one_token_serves_many_calls_and_is_sent_as_daraja_asks() -> None:
    http = _network({"/pulltransactions/v1/query": reply({"ResponseCode": "1001", "Response": [[]]})})
    client = _client(http)
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    for _ in range(100):
        assert client.pull("600000", start, start.replace(hour=10), 0) == []
    oauth = [r for r in http.requests if "/oauth/" in r[0]]
    assert len(oauth) == 1 and len(http.requests) == 101
    assert oauth[0][2]["Authorization"] == "Basic " + base64.b64encode(b"key-123456:secret-123456").decode()
    _, body, headers = http.requests[1]
    assert headers["Authorization"] == "Bearer token-1"
    assert json.loads(body) == {
        "ShortCode": "600000",
        "StartDate": "2026-12-01 12:00:00",  # Kenyan time
        "EndDate": "2026-12-01 13:00:00",
        "OffSetValue": "0",
    }


def test_a_refused_token_is_renewed_once_and_the_call_repeated() -> None:
    answers = iter([reply({"errorCode": "401.001", "errorMessage": "Invalid Access Token"}, 401)])

    def query(body: dict[str, Any]) -> HttpAnswer:
        return next(answers, reply({"ResponseCode": "1000", "Response": [[{"transactionId": "QK1"}]]}))

    http = _network({"/pulltransactions/v1/query": query})
    rows = _client(http).pull("600000", datetime.now(UTC), datetime.now(UTC), 0)
    assert rows == [{"transactionId": "QK1"}]
    assert [r[2]["Authorization"] for r in http.requests if "query" in r[0]] == [
        "Bearer token-1",
        "Bearer token-2",
    ]


@pytest.mark.parametrize(
    ("answer", "rows"),
    [
        (
            {"ResponseCode": "1000", "Response": [[{"transactionId": "A"}, {"transactionId": "B"}]]},
            ["A", "B"],
        ),
        ({"ResponseCode": 1000, "Response": [{"transactionId": "A"}]}, ["A"]),
        ({"ResponseCode": "1000", "Response": '[[{"transactionId": "A"}]]'}, ["A"]),
        (
            {"ResponseCode": "1000", "Transaction": [[[{"transactionId": "A"}], {"transactionId": "B"}]]},
            ["A", "B"],
        ),
        ({"ResponseCode": "1001", "Transaction": "[[]]"}, []),
        ({"ResponseCode": "1001"}, []),
    ],
)
def test_pull_answers_are_read_whatever_their_nesting(
    answer: dict[str, Any], rows: list[Any] | list[str]
) -> None:
    http = _network({"/pulltransactions/v1/query": reply(answer)})
    found = _client(http).pull("600000", datetime.now(UTC), datetime.now(UTC), 0)
    assert [r["transactionId"] for r in found] == rows


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (HttpAnswer(200, b"<html>Service Unavailable</html>"), "unreadable"),
        (reply({"ResponseCode": "1000", "Response": [["QK1", "QK2"]]}), "unreadable"),
        (reply({"ResponseCode": "1000"}), "unreadable"),
        (reply({"errorCode": "500.003.1001", "errorMessage": "Internal Server Error"}, 500), "refused"),
        (reply({"errorCode": "400.001", "errorMessage": "Invalid ShortCode"}, 400), "refused"),
        (HttpFailure("ReadTimeoutError", maybe_sent=True), "unreachable"),
    ],
)
def test_what_cannot_be_read_is_a_failure_never_a_guess(answer: HttpAnswer | HttpFailure, kind: str) -> None:
    http = _network({"/pulltransactions/v1/query": answer})
    with pytest.raises(DarajaFailure) as caught:
        _client(http).pull("600000", datetime.now(UTC), datetime.now(UTC), 0)
    assert caught.value.kind == kind


def test_registration_outcomes_say_what_daraja_said_and_what_mends_a_refusal() -> None:
    registered = {"OriginatorCoversationID": "1", "ResponseCode": "0", "ResponseDescription": "Success"}
    http = _network(
        {
            "/mpesa/c2b/v2/registerurl": reply(registered),
            "/mpesa/c2b/v1/registerurl": reply(
                {
                    "errorCode": "401.003.01",
                    "errorMessage": "Error Occurred - Invalid Access Token - no apiproduct match found",
                },
                401,
            ),
            "/pulltransactions/v1/register": reply(
                {"ResponseStatus": "1001", "ResponseDescription": "ShortCode already Registered"}
            ),
        }
    )
    client = _client(http)
    ok = client.register_urls("600000", "v2", "Completed", "https://x/c", "https://x/v")
    assert (ok.outcome, ok.ok) == ("registered", True)
    refused = client.register_urls("600000", "v1", "Completed", "https://x/c", "https://x/v")
    assert (refused.outcome, refused.code, refused.ok) == ("refused", "401.003.01", False)
    assert "DarajaRegisterUrlVersion=v2" in (refused.fix or "")
    again = client.register_pull("600000", "254722000000", "https://x/c")
    assert (again.outcome, again.ok) == ("already registered", True)
    already = _client(
        _network(
            {
                "/mpesa/c2b/v2/registerurl": reply(
                    {"errorCode": "500.003.1001", "errorMessage": "Urls are already registered."}, 500
                )
            }
        )
    ).register_urls("600000", "v2", "Completed", "https://x/c", "https://x/v")
    assert (already.outcome, already.ok) == ("already registered", True)


def test_register_covers_every_short_code_and_says_when_pull_cannot_be() -> None:
    http = _network(
        {
            "/mpesa/c2b/v2/registerurl": reply({"ResponseCode": "0", "ResponseDescription": "Success"}),
            "/pulltransactions/v1/register": reply(
                {"ResponseStatus": "1000", "ResponseDescription": "Registered"}
            ),
        }
    )
    urls = CallbackUrls.at("https://api.example/v1", "tok")
    steps = register(_client(http), CREDENTIALS, urls, version="v2", response_type="Completed")
    assert [(s.short_code, s.call, s.result.outcome) for s in steps] == [
        ("600000", "Register URL v2", "registered"),
        ("600000", "Pull register", "registered"),
        ("600001", "Register URL v2", "registered"),
        ("600001", "Pull register", "registered"),
    ]
    body = json.loads(next(r[1] for r in http.requests if "registerurl" in r[0]))
    assert body == {
        "ShortCode": "600000",
        "ResponseType": "Completed",
        "ConfirmationURL": "https://api.example/v1/payments/c2b/confirmation/tok",
        "ValidationURL": "https://api.example/v1/payments/c2b/validation/tok",
    }
    without = CREDENTIALS.model_copy(update={"nominated_number": None, "short_codes": ("600000",)})
    steps = register(_client(http), without, urls, version="v2", response_type="Completed")
    assert steps[1].result.outcome == "refused" and "nominated_number" in (steps[1].result.fix or "")


def test_urls_that_break_safaricoms_rules_are_refused_with_the_rule_and_the_fix() -> None:
    assert url_problems("https://pay.example.co.ke/payments/c2b/confirmation/abc", "abc") == []
    [(rule, fix)] = url_problems("https://a1.execute-api.us-east-1.amazonaws.com/v1/payments/stk/t", "t")
    assert (
        rule == "the host contains 'exec', a word Safaricom refuses in callback URLs"
        and fix == CUSTOM_DOMAIN_FIX
    )
    assert url_problems("http://pay.example.co.ke/x")[0][0] == "production URLs must be HTTPS"
    assert "'query'" in url_problems("https://pay.example.co.ke/query/x")[0][0]
    assert url_problems("https://10.0.0.7/payments/stk/t", "t")[0][0] == "the host must be publicly reachable"
    assert "URL testers" in url_problems("https://abc.ngrok.app/payments/stk/t", "t")[0][0]
    # The token is random: a word inside it is no breach. Locally the simulator's loopback URLs pass.
    assert url_problems("https://pay.example.co.ke/payments/stk/xsqlx", "xsqlx") == []
    assert url_problems("http://127.0.0.1:3000/payments/stk/t", "t", local=True) == []
    assert url_problems("http://127.0.0.1:3000/payments/stk/t", "t")  # but not against a real stack


def test_transaction_status_sends_the_initiator_and_names_the_receipt_in_the_occasion() -> None:
    http = _network(
        {"/mpesa/transactionstatus/v1/query": reply({"ResponseCode": "0", "ResponseDescription": "Accept"})}
    )
    asked = _client(http).ask_status("QK1", "600000", "https://x/payments/status-results/t")
    assert asked.outcome == "accepted"
    body = json.loads(http.requests[-1][1])
    assert body["TransactionID"] == "QK1" and body["Occasion"] == "QK1" and body["PartyA"] == "600000"
    assert (body["Initiator"], body["SecurityCredential"]) == ("apiop", "encrypted-credential")
    assert body["ResultURL"] == body["QueueTimeOutURL"] == "https://x/payments/status-results/t"
    no_initiator = DarajaClient(BASE, lambda: CREDENTIALS.model_copy(update={"initiator_name": None}), http)
    refused = no_initiator.ask_status("QK1", "600000", "https://x")
    assert refused.outcome == "refused" and "initiator_name" in (refused.fix or "")


def test_the_token_is_shared_through_the_store_renewed_before_expiry_and_never_stampeded() -> None:
    store = MemoryStateStore()
    clock = [1000.0]
    fetched: list[int] = []
    gate = threading.Event()

    def fetch() -> Token:
        gate.wait(2)
        fetched.append(1)
        return Token(f"t{len(fetched)}", clock[0] + 3600)

    def pause(seconds: float) -> None:
        gate.wait(0.01)

    caches = [TokenCache(fetch, store, clock=lambda: clock[0], sleep=pause) for _ in range(8)]
    tokens: list[str] = []
    threads = [threading.Thread(target=lambda c=c: tokens.append(c.get())) for c in caches]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(5)
    assert fetched == [1] and tokens == ["t1"] * 8  # eight cold containers, one OAuth call
    clock[0] += 3600 - MARGIN_SECONDS + 1  # almost expired: renewed before it is refused
    assert caches[0].get() == "t2" and caches[5].get() == "t2" and len(fetched) == 2
    caches[3].invalidate("t2")  # Daraja refused it: nobody uses it again
    assert caches[3].get() == "t3" and caches[1].get() == "t3"


def test_daraja_time_is_kenyan_unless_daraja_pull_times_says_utc() -> None:
    from tuma.models.daraja import PullTimes

    assert daraja_time(datetime(2026, 12, 1, 21, 30, 5, tzinfo=UTC)) == "2026-12-02 00:30:05"
    assert daraja_time(datetime(2026, 12, 1, 21, 30, 5, tzinfo=UTC), PullTimes.UTC) == "2026-12-01 21:30:05"
