"""The simulator's rules, without HTTP: credentials, sender id, numbers, text, credit, list limits."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tuma_cli.sandbox.platform import Answer, SimulatorSettings, SmsPlatform

AUTH = {"apikey": "sandbox-apikey-0123456789", "partnerID": "12345"}


def _platform(**settings: Any) -> tuple[SmsPlatform, list[float]]:
    now = [1_000_000.0]
    platform = SmsPlatform(SimulatorSettings(**settings), clock=lambda: now[0])
    return platform, now


def _send(platform: SmsPlatform, **params: Any) -> Answer:
    return platform.handle("sendsms", AUTH | {"shortcode": "TUMA", "message": "hi"} | params)


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        ({}, 4091),
        ({"partnerID": "12345"}, 4092),
        ({"partnerID": "12345", "apikey": "wrong"}, 1006),
        ({"partnerID": "99", "apikey": "sandbox-apikey-0123456789"}, 1006),
    ],
)
def test_credentials(auth: dict[str, Any], code: int) -> None:
    platform, _ = _platform()
    answer = platform.handle("getbalance", auth)
    assert answer.body["response-code"] == code


def test_sender_id_is_case_sensitive() -> None:
    platform, _ = _platform()
    assert _send(platform, mobile="254712345678", shortcode="tuma").body["response-code"] == 1001


def test_numbers_endings_and_credit() -> None:
    platform, _ = _platform(credit=Decimal(3))
    answer = _send(
        platform, mobile="254712345678,254712345409,254712345410,0712345678,254712345401,254712345402"
    )
    codes = [e["response-code"] for e in answer.body["responses"]]
    assert codes == [200, 1003, 1002, 1003, 200, 200]
    assert platform.settings.credit == 0
    assert _send(platform, mobile="254712345678").body["responses"][0]["response-code"] == 1004


def test_parts_are_billed_and_non_gsm7_refused() -> None:
    platform, _ = _platform(credit=Decimal(10))
    _send(platform, mobile="254712345678", message="a" * 161)
    assert platform.settings.credit == 8
    assert _send(platform, mobile="254712345678", message="🙏").body["response-code"] == 1009


def test_list_limits() -> None:
    platform, _ = _platform(bulk_limit=2, comma_limit=2)
    assert _send(platform, mobile="254712345678,254712345679,254712345670").body["response-code"] == 1104
    smslist = [
        AUTH
        | {
            "pass_type": "plain",
            "clientsmsid": i,
            "mobile": "254712345678",
            "message": "x",
            "shortcode": "TUMA",
        }
        for i in range(3)
    ]
    assert platform.handle("sendbulk", {"count": 3, "smslist": smslist}).body["response-code"] == 1012


def test_failed_bulk_entries_echo_the_request_like_the_real_platform() -> None:
    platform, _ = _platform()
    entry = AUTH | {
        "pass_type": "plain",
        "clientsmsid": 7,
        "mobile": "0712345678",
        "message": "x",
        "shortcode": "TUMA",
    }
    answer = platform.handle("sendbulk", {"count": 1, "smslist": [entry]}).body["responses"][0]
    assert answer["response-code"] == 1003
    assert answer["mobile"] == "0712345678"  # as sent, not normalised
    assert answer["clientsmsid"] == 7
    assert answer["apikey"] == AUTH["apikey"]  # why the client must never log raw answers


def test_delivery_reports_follow_the_number_and_arrive_after_the_delay() -> None:
    platform, now = _platform(dlr_delay=5)
    answer = _send(platform, mobile="254712345678,254712345401").body["responses"]
    ids = [str(e["messageid"]) for e in answer]
    assert platform.handle("getdlr", AUTH | {"messageID": ids[0]}).body["response-code"] == 1009
    now[0] += 6
    reports = [platform.handle("getdlr", AUTH | {"messageID": i}).body for i in ids]
    assert [r["delivery-description"] for r in reports] == ["DeliveredToTerminal", "AbsentSubscriber"]
    assert platform.handle("getdlr", AUTH | {"messageID": "nope"}).body["response-code"] == 4093


def test_wavesms_dialect_answers_bare_arrays_with_mixed_keys() -> None:
    platform, _ = _platform(dialect="wavesms")
    body = _send(platform, mobile="254712345678,254712345679").body
    assert isinstance(body, list)
    assert "respose-code" in body[0] and "response-code" in body[1]
    assert isinstance(body[0]["messageid"], str)


def test_hashed_route_wants_a_digest() -> None:
    platform, _ = _platform()
    ok = platform.handle(
        "sendotp", AUTH | {"shortcode": "TUMA", "message": "x", "mobile": "a" * 64, "hashed": True}
    )
    assert ok.body["responses"][0]["response-code"] == 200
    assert platform.outbox[-1].route == "hashed"
    bad = platform.handle(
        "sendotp", AUTH | {"shortcode": "TUMA", "message": "x", "mobile": "254712345678", "hashed": True}
    )
    assert bad.body["responses"][0]["response-code"] == 1003
