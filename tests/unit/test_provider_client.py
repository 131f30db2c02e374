"""The client against scripted HTTP answers (tests/unit/fakes.ScriptedHttp stands in for the network)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from tuma.models.http import HttpAnswer, HttpFailure
from tuma.models.provider_answers import ProviderError
from tuma.models.provider_codes import Disposition
from tuma.models.provider_credentials import Credentials
from tuma.models.sending import BulkMessage
from tuma.ports import CredentialSource
from tuma.provider.client import ProviderClient, RetryPolicy
from tuma.provider.limits import BulkLimit

from tests.unit.fakes import MemoryStateStore, ScriptedHttp, reply

APIKEY = "live-key-7f3a9c2e1b"


class RotatingCredentials:
    """Serves the old key until refreshed, as a secret cache would after an out-of-band rotation."""

    def __init__(self, *keys: str) -> None:
        self.keys = list(keys)
        self.refreshes = 0

    def get(self) -> Credentials:
        return Credentials(apikey=self.keys[0], partner_id="42", shortcode="TUMA")

    def refresh(self) -> Credentials:
        self.refreshes += 1
        if len(self.keys) > 1:
            self.keys.pop(0)
        return self.get()


Script = Callable[[str, dict[str, Any], int], HttpAnswer | HttpFailure]


def _client(
    script: Script, creds: CredentialSource | None = None, **kwargs: Any
) -> tuple[ProviderClient, list[dict[str, Any]]]:
    requests: list[dict[str, Any]] = []

    def handler(url: str, content: bytes) -> HttpAnswer | HttpFailure:
        body = json.loads(content)
        path = "/" + url.split("/", 3)[3]
        requests.append({"path": path, "body": body})
        return script(path.rsplit("/", 1)[-1], body, len(requests))

    client = ProviderClient(
        "http://provider.test/",
        creds or RotatingCredentials(APIKEY),
        ScriptedHttp(handler),
        retry=RetryPolicy(attempts=3, base_delay=0.0),
        sleep=lambda _: None,
        **kwargs,
    )
    return client, requests


def _ok_bulk(body: dict[str, Any]) -> HttpAnswer:
    return reply(
        {
            "responses": [
                {
                    "response-code": 200,
                    "response-description": "Success",
                    "mobile": int(m["mobile"]),
                    "messageid": 1000 + int(m["clientsmsid"]),
                    "clientsmsid": int(m["clientsmsid"]),
                    "networkid": 1,
                }
                for m in body["smslist"]
            ]
        },
    )


def test_posts_json_to_the_documented_path() -> None:
    client, requests = _client(lambda ep, body, n: reply({"response-code": 200, "credit": "5"}))
    client.get_balance()
    assert requests == [{"path": "/api/services/getbalance", "body": {"apikey": APIKEY, "partnerID": "42"}}]


def test_bulk_answers_are_matched_by_clientsmsid_whatever_their_order() -> None:
    def script(ep: str, body: dict[str, Any], n: int) -> HttpAnswer | HttpFailure:
        answer = json.loads(_ok_bulk(body).content)
        answer["responses"].reverse()
        return reply(answer)

    client, _ = _client(script)
    messages = [BulkMessage(str(i), f"25471234567{i}", f"text {i}") for i in range(1, 6)]
    results = client.send_bulk(messages)
    assert {k: r.message_id for k, r in results.items()} == {str(i): str(1000 + i) for i in range(1, 6)}


def test_bulk_is_split_at_the_configured_limit() -> None:
    client, requests = _client(lambda ep, body, n: _ok_bulk(body), bulk_limit=20)
    results = client.send_bulk([BulkMessage(str(i), "254712345678", "x") for i in range(1, 46)])
    assert [len(r["body"]["smslist"]) for r in requests] == [20, 20, 5]
    assert all(r.accepted for r in results.values())


def _capped(cap: int) -> Script:
    def script(ep: str, body: dict[str, Any], n: int) -> HttpAnswer:
        if len(body["smslist"]) > cap:
            return reply({"response-code": 1012, "response-description": "Too Many"})
        return _ok_bulk(body)

    return script


def _bulk(count: int, start: int = 0) -> list[BulkMessage]:
    return [BulkMessage(str(i), "254712345678", "x") for i in range(start, start + count)]


class MemoryStore(MemoryStateStore):
    """The learnt limit's store, as `tuma.ports.StateStore`."""


def test_code_1012_falls_to_the_documented_small_limit_and_remembers_it_for_later_invocations() -> None:
    store = MemoryStore()
    first, requests = _client(_capped(20), bulk_limit=BulkLimit(100, store, "provider.test"))
    results = first.send_bulk(_bulk(100))
    assert len(results) == 100 and all(r.accepted for r in results.values())
    assert [len(r["body"]["smslist"]) for r in requests] == [100, 20, 20, 20, 20, 20]
    assert store.documents["bulk-limit#provider.test"]["passed"] == 20

    # A cold start of another sender: no list is refused again. 300 messages in 16 calls in all.
    for start in (100, 200):
        later, more = _client(_capped(20), bulk_limit=BulkLimit(100, store, "provider.test"))
        later.send_bulk(_bulk(100, start))
        assert [len(r["body"]["smslist"]) for r in more] == [20] * 5
        requests += more
    assert len(requests) == 16


def test_a_limit_between_the_documented_ones_is_found_by_probing_now_and_then() -> None:
    store, now = MemoryStore(), [0.0]
    calls = []
    for hour in range(8):
        now[0] = hour * 3600.0
        limit = BulkLimit(100, store, "brand", probe_every_seconds=3600, clock=lambda: now[0])
        client, requests = _client(_capped(45), bulk_limit=limit)
        assert all(r.accepted for r in client.send_bulk(_bulk(100)).values())
        calls.append(len(requests))
    learnt = store.documents["bulk-limit#brand"]
    # 20 passes, then 60 refused, 40 passes, 50 refused, 45 passes, 47 and 46 refused: 45 is known.
    assert learnt["passed"] == 45 and learnt["refused"] == 46
    assert calls[-1] == 3  # 45 + 45 + 10, no probe left to make


def test_a_brand_that_lowers_its_limit_is_followed_down() -> None:
    store = MemoryStore()
    client, _ = _client(_capped(20), bulk_limit=BulkLimit(100, store, "b"))
    client.send_bulk(_bulk(40))
    lowered, requests = _client(_capped(10), bulk_limit=BulkLimit(100, store, "b"))
    assert all(r.accepted for r in lowered.send_bulk(_bulk(40)).values())
    assert [len(r["body"]["smslist"]) for r in requests] == [20, 10, 10, 10, 10]
    learnt = store.documents["bulk-limit#b"]
    assert (learnt["passed"], learnt["refused"]) == (10, 20)


def test_a_store_that_fails_never_stops_a_send() -> None:
    class Broken(MemoryStateStore):
        def _check(self) -> None:
            raise RuntimeError("throttled")

    client, requests = _client(_capped(20), bulk_limit=BulkLimit(100, Broken(), "b"))
    assert all(r.accepted for r in client.send_bulk(_bulk(50)).values())
    assert [len(r["body"]["smslist"]) for r in requests] == [50, 20, 20, 10]


def test_code_1104_splits_a_comma_list() -> None:
    def script(ep: str, body: dict[str, Any], n: int) -> HttpAnswer | HttpFailure:
        mobiles = body["mobile"].split(",")
        if len(mobiles) > 2:
            return reply({"response-code": 1104})
        return reply(
            {
                "responses": [
                    {"response-code": 200, "mobile": m, "messageid": i} for i, m in enumerate(mobiles)
                ]
            },
        )

    client, _ = _client(script)
    numbers = [f"25471234567{i}" for i in range(5)]
    results = client.send_sms(numbers, "hello")
    assert set(results) == set(numbers) and all(r.accepted for r in results.values())


def test_transient_failures_are_retried_then_succeed() -> None:
    answers: list[HttpAnswer | HttpFailure | None] = [
        HttpAnswer(502, b"<html>bad gateway</html>"),
        HttpFailure("NewConnectionError", maybe_sent=False),
        None,
    ]

    def script(ep: str, body: dict[str, Any], n: int) -> HttpAnswer | HttpFailure:
        answer = answers[n - 1]
        return answer if answer is not None else _ok_bulk(body)

    client, requests = _client(script)
    results = client.send_bulk([BulkMessage("1", "254712345678", "x")])
    assert results["1"].accepted
    assert len(requests) == 3


def test_retries_stop_after_the_policy_and_the_result_says_retry() -> None:
    client, requests = _client(lambda ep, body, n: reply({"response-code": 1005}))
    results = client.send_bulk([BulkMessage("1", "254712345678", "x")])
    assert results["1"].disposition is Disposition.RETRY
    assert len(requests) == 3


@pytest.mark.parametrize(
    ("code", "disposition"),
    [(1001, Disposition.CONFIG), (4090, Disposition.RETRY_LATER), (4092, Disposition.CONFIG)],
)
def test_errors_that_do_not_deserve_a_retry_are_not_retried(code: int, disposition: Disposition) -> None:
    client, requests = _client(lambda ep, body, n: reply({"response-code": code}))
    result = client.send_otp("254712345678", "x")
    assert result.disposition is disposition
    assert len(requests) == 1


def test_per_recipient_rejection_is_not_retried() -> None:
    def script(ep: str, body: dict[str, Any], n: int) -> HttpAnswer | HttpFailure:
        return reply(
            {
                "responses": [
                    {
                        "response-code": 1003,
                        "response-description": "Invalid mobile number",
                        "mobile": "0712",
                        "clientsmsid": "1",
                        "apikey": APIKEY,
                    },
                    {"response-code": 200, "messageid": 9, "clientsmsid": "2"},
                ]
            },
        )

    client, requests = _client(script)
    results = client.send_bulk([BulkMessage("1", "254712345409", "x"), BulkMessage("2", "254712345678", "y")])
    assert results["1"].disposition is Disposition.REJECT
    assert results["2"].accepted
    assert len(requests) == 1


def test_rotated_key_is_fetched_again_once_and_the_call_retried() -> None:
    def script(ep: str, body: dict[str, Any], n: int) -> HttpAnswer | HttpFailure:
        if body["smslist"][0]["apikey"] != "new-key-000000":
            return reply({"response-code": 1006, "response-description": "Invalid credentials"})
        return _ok_bulk(body)

    creds = RotatingCredentials(APIKEY, "new-key-000000")
    client, requests = _client(script, creds=creds)
    assert client.send_bulk([BulkMessage("1", "254712345678", "x")])["1"].accepted
    assert creds.refreshes == 1
    assert len(requests) == 2


def test_still_invalid_after_one_refresh_is_a_credentials_error() -> None:
    creds = RotatingCredentials(APIKEY)
    client, requests = _client(lambda ep, body, n: reply({"response-code": 1006}), creds=creds)
    assert client.send_otp("254712345678", "x").disposition is Disposition.CREDENTIALS
    assert creds.refreshes == 1
    assert len(requests) == 2


def test_no_report_yet_is_none_for_both_documented_codes() -> None:
    for code in (1008, 1009):
        client, _ = _client(lambda ep, body, n: reply({"response-code": code}))  # noqa: B023 (used at once)
        assert client.get_dlr("123") is None
    client, _ = _client(lambda ep, body, n: reply({"response-code": 4093}))
    with pytest.raises(ProviderError):
        client.get_dlr("123")


def test_missing_entries_are_retried_not_assumed_sent() -> None:
    client, _ = _client(
        lambda ep, body, n: reply({"responses": [{"response-code": 200, "messageid": 1, "clientsmsid": "1"}]})
    )
    results = client.send_bulk([BulkMessage("1", "254712345678", "x"), BulkMessage("2", "254712345679", "y")])
    assert results["1"].accepted
    assert results["2"].disposition is Disposition.RETRY


def test_the_apikey_appears_in_no_log_line_and_no_result(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def script(ep: str, body: dict[str, Any], n: int) -> HttpAnswer | HttpFailure:
        if n == 1:
            return HttpFailure("ReadTimeoutError", maybe_sent=True)
        return reply(
            {
                "responses": [
                    {
                        "response-code": 1003,
                        "response-description": f"Invalid mobile, apikey {APIKEY}",
                        "clientsmsid": "1",
                        "apikey": APIKEY,
                        "partnerID": "42",
                    }
                ]
            },
        )

    client, _ = _client(script)
    results = client.send_bulk([BulkMessage("1", "254712345678", "x")])
    assert APIKEY not in caplog.text
    assert "254712345678" not in caplog.text
    # The provider's description is kept (it explains the rejection) but never the echoed fields.
    assert results["1"].disposition is Disposition.REJECT
    assert APIKEY not in repr(results)
    assert "partnerID" not in repr(results)


def test_a_bulk_answer_mixing_entries_with_and_without_clientsmsid_matches_every_entry() -> None:
    # The WaveSMS sample: the accepted entry echoes clientsmsid, the low-credit one only the number.
    from tests.conftest import shared_fixture

    answer = shared_fixture("provider/wavesms_send_mixed_keys_low_credit.json")
    client, _ = _client(lambda endpoint, body, n: reply(answer))
    results = client.send_bulk(
        [
            BulkMessage("1234", "254123456789", "first"),
            BulkMessage("1235", "254123456789", "second"),
        ]
    )
    assert results["1234"].disposition is Disposition.SUCCESS and results["1234"].message_id == "75085465"
    # Low credit, not "no entry": the sender waits for a top-up (5 minutes) and counts LowCredit.
    assert (results["1235"].disposition, results["1235"].code) == (Disposition.RETRY_LATER, 1004)


def test_entries_without_clientsmsid_are_matched_by_number_then_in_order() -> None:
    def script(endpoint: str, body: dict[str, Any], n: int) -> HttpAnswer | HttpFailure:
        entries = body["smslist"]
        # Answered in reverse order, without ids: the numbers tell them apart.
        return reply(
            {
                "responses": [
                    {"response-code": 200, "mobile": e["mobile"], "messageid": 100 + i}
                    for i, e in reversed(list(enumerate(entries)))
                ]
            },
        )

    client, _ = _client(script)
    results = client.send_bulk([BulkMessage(str(i), f"25471234567{i}", "x") for i in range(3)])
    assert {k: r.message_id for k, r in results.items()} == {"0": "100", "1": "101", "2": "102"}


@pytest.mark.parametrize(
    ("failure", "maybe_accepted"),
    [
        (HttpFailure("NewConnectionError", maybe_sent=False), False),
        (HttpFailure("ReadTimeoutError", maybe_sent=True), True),
    ],
)
def test_a_request_that_may_have_reached_the_provider_says_so(
    failure: HttpFailure, maybe_accepted: bool
) -> None:
    client, requests = _client(lambda ep, body, n: failure)
    result = client.send_bulk([BulkMessage("1", "254712345678", "x")])["1"]
    assert (result.disposition, result.maybe_accepted) == (Disposition.RETRY, maybe_accepted)
    assert result.description == f"transport error: {failure.kind}"
    assert len(requests) == 3


def test_one_lost_answer_among_retries_is_enough_to_say_maybe_accepted() -> None:
    failures = [
        HttpFailure("ProtocolError", maybe_sent=True),
        HttpFailure("NewConnectionError", maybe_sent=False),
    ]
    client, _ = _client(lambda ep, body, n: failures[min(n, 2) - 1])
    assert client.send_otp("254712345678", "x").maybe_accepted


def test_requests_are_compact_json_with_the_client_s_headers() -> None:
    http = ScriptedHttp(lambda url, content: reply({"response-code": 200, "credit": "5"}))
    ProviderClient("http://provider.test", RotatingCredentials(APIKEY), http).get_balance()
    [(url, content, headers)] = http.requests
    assert url == "http://provider.test/api/services/getbalance"
    assert content == b'{"apikey":"live-key-7f3a9c2e1b","partnerID":"42"}'
    assert headers["Content-Type"] == "application/json" and headers["User-Agent"].startswith("tuma/")
