"""Every provider sample in ../shared/fixtures/provider/ parses, and every code has a disposition."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from tuma.models.delivery_callback import DeliveryCallback
from tuma.models.provider_answers import (
    Balance,
    DeliveryReport,
    ProviderError,
    read_answer,
    read_send_answer,
)
from tuma.models.provider_codes import CODES, Disposition, classify

from tests.conftest import SHARED_FIXTURES, shared_fixture

EAT = timezone(timedelta(hours=3))


def _bytes(name: str) -> bytes:
    return (SHARED_FIXTURES / "provider" / name).read_bytes()


@pytest.mark.parametrize(
    "name",
    [
        "advanta_sendsms_success_response.json",
        "advanta_sendotp_success_response.json",
        "advanta_send_hashed_success_response.json",
    ],
)
def test_single_send_answers(name: str) -> None:
    answers = read_send_answer(read_answer(200, _bytes(name)))
    assert len(answers) == 1
    assert answers[0].code == 200
    assert answers[0].disposition is Disposition.SUCCESS
    assert answers[0].message_id  # a string, whatever the JSON type was
    assert answers[0].network_id == "1"


def test_sendbulk_answer_keeps_clientsmsid_as_a_string() -> None:
    answers = read_send_answer(read_answer(200, _bytes("advanta_sendbulk_success_response.json")))
    assert [a.client_sms_id for a in answers] == ["1234", "1234"]
    assert all(a.disposition is Disposition.SUCCESS for a in answers)


def test_bare_array_with_both_code_spellings_and_string_numbers() -> None:
    answers = read_send_answer(read_answer(200, _bytes("wavesms_send_mixed_keys_low_credit.json")))
    assert [(a.code, a.disposition) for a in answers] == [
        (200, Disposition.SUCCESS),
        (1004, Disposition.RETRY_LATER),
    ]
    assert answers[0].message_id == "75085465"
    assert answers[0].client_sms_id == "1234"
    assert answers[0].network_id == "2"
    assert answers[1].description.startswith("Low credit units")


def test_invalid_credentials_is_a_whole_request_error() -> None:
    with pytest.raises(ProviderError) as caught:
        read_answer(200, _bytes("advanta_error_invalid_credentials_response.json"))
    assert caught.value.code == 1006
    assert caught.value.disposition is Disposition.CREDENTIALS


@pytest.mark.parametrize(
    "name", ["advanta_getdlr_success_response.json", "wavesms_getdlr_success_response.json"]
)
def test_delivery_reports(name: str) -> None:
    report = DeliveryReport.model_validate(read_answer(200, _bytes(name)))
    assert report.status == "DeliveredToTerminal"
    assert report.status_code == 32
    assert report.delivered_at is not None
    assert report.delivered_at.utcoffset() == timedelta(hours=3)


def test_wavesms_report_time_is_east_africa_time() -> None:
    report = DeliveryReport.model_validate(read_answer(200, _bytes("wavesms_getdlr_success_response.json")))
    assert report.delivered_at == datetime(2023, 2, 18, 21, 16, 22, tzinfo=EAT)
    assert report.turnaround == "00:00:06"


def test_no_dlr_yet_is_an_error_the_client_turns_into_not_yet() -> None:
    with pytest.raises(ProviderError) as caught:
        read_answer(200, _bytes("advanta_getdlr_error_no_dlr_response.json"))
    assert caught.value.code == 1009


def test_balance() -> None:
    balance = Balance.model_validate(read_answer(200, _bytes("advanta_getbalance_success_response.json")))
    assert balance.credit == Decimal("545.00")


def test_delivery_report_callback() -> None:
    callback = DeliveryCallback.model_validate(shared_fixture("provider/advanta_dlr_callback.json"))
    assert callback.message_id == "1889191"
    assert callback.description == "DeliveredToTerminal"
    assert callback.timestamp == datetime(2025, 9, 12, 10, 16, 10, tzinfo=EAT)


def test_every_documented_code_has_a_disposition() -> None:
    documented = shared_fixture("provider/response_codes.json")["codes"]
    assert {c["code"] for c in documented} == set(CODES)
    expected = {
        1001: Disposition.CONFIG,
        1002: Disposition.REJECT,
        1003: Disposition.REJECT,
        1004: Disposition.RETRY_LATER,
        1005: Disposition.RETRY,
        1006: Disposition.CREDENTIALS,
        1007: Disposition.RETRY,
        1012: Disposition.SPLIT,
        1104: Disposition.SPLIT,
        4090: Disposition.RETRY_LATER,
        4091: Disposition.CONFIG,
        4092: Disposition.CONFIG,
    }
    for code, disposition in expected.items():
        assert classify(code) is disposition
    assert classify(9999) is Disposition.RETRY  # unknown: retried, ends in the DLQ if it persists


@pytest.mark.parametrize(
    ("status", "body", "disposition"),
    [
        (502, b"<html><body>Bad Gateway</body></html>", Disposition.RETRY),
        (503, b"", Disposition.RETRY),
        (200, b"", Disposition.RETRY),
        (200, b"   ", Disposition.RETRY),
        (200, b"<html>maintenance</html>", Disposition.RETRY),
        (429, b"slow down", Disposition.RETRY_LATER),
        (403, b"Forbidden", Disposition.CONFIG),
        (404, b"Not Found", Disposition.CONFIG),
        (200, b'{"respose-code": "4090", "response-description": "x"}', Disposition.RETRY_LATER),
        (200, b'{"response-code": 1001, "response-description": "Invalid sender id"}', Disposition.CONFIG),
    ],
)
def test_broken_and_error_answers_are_classified(status: int, body: bytes, disposition: Disposition) -> None:
    with pytest.raises(ProviderError) as caught:
        read_answer(status, body)
    assert caught.value.disposition is disposition
    assert "<html" not in str(caught.value)  # the raw body never travels on


def test_send_answer_without_entries_and_odd_entries() -> None:
    with pytest.raises(ProviderError):
        read_send_answer({"something": "else"})
    answers = read_send_answer({"responses": ["x", {"no": "code"}, {"response-code": 200, "messageid": 1}]})
    assert [a.message_id for a in answers] == ["1"]


def test_documented_requests_match_what_the_client_sends() -> None:
    """The request samples name the fields the API expects; the client must send exactly those."""
    from tuma.models.http import HttpAnswer
    from tuma.models.provider_credentials import Credentials, StaticCredentials
    from tuma.models.sending import BulkMessage
    from tuma.provider.client import ProviderClient

    from tests.unit.fakes import ScriptedHttp, reply

    sent: list[dict[str, Any]] = []

    def handler(url: str, content: bytes) -> HttpAnswer:
        sent.append(json.loads(content))
        return reply({"responses": [{"response-code": 200, "messageid": 1, "clientsmsid": "1"}]})

    creds = StaticCredentials(Credentials(apikey="k" * 20, partner_id="1", shortcode="TUMA"))
    client = ProviderClient("http://provider.test", creds, ScriptedHttp(handler))
    client.send_bulk([BulkMessage("1", "254712345678", "hi")])
    client.send_otp("a" * 64, "code", hashed=True)

    bulk_doc = shared_fixture("provider/advanta_sendbulk_request.json")
    assert set(sent[0]) == set(bulk_doc)
    assert set(sent[0]["smslist"][0]) == set(bulk_doc["smslist"][0])
    assert sent[0]["smslist"][0]["pass_type"] == "plain"
    hashed_doc = shared_fixture("provider/advanta_send_hashed_request.json")
    assert set(sent[1]) == set(hashed_doc)
    assert sent[1]["hashed"] is True
