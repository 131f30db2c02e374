from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from tuma.models.outbox import OutboxMessage, Route, key_of


def test_the_two_documented_shapes_parse() -> None:
    alert = OutboxMessage.model_validate_json(
        '{"idempotency_key": "alert-42", "to": ["0712345678"], "template": "alert",'
        ' "data": {"title": "Disk full", "host": "db-1"}, "language": "en"}'
    )
    assert alert.template == "alert"
    assert alert.to == ("0712345678",)
    otp = OutboxMessage.model_validate_json(
        '{"idempotency_key": "otp-991", "to": ["254712345678"], "text": "Your code is 4821", "route": "otp"}'
    )
    assert otp.route is Route.OTP


@pytest.mark.parametrize(
    "to", ["0712345678", 254712345678, "0712345678,0722000000", ["0712345678", 254722000000]]
)
def test_recipients_in_the_forms_producers_send(to: int | list[Any] | str) -> None:
    message = OutboxMessage(idempotency_key="k", to=to, text="hi")
    assert all(isinstance(n, str) for n in message.to)
    assert len(message.to) >= 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": ["0712345678"], "text": "hi"}, "idempotency_key"),
        ({"idempotency_key": "k", "to": ["0712345678"]}, "exactly one of text or template"),
        ({"idempotency_key": "k", "to": ["0712345678"], "text": "a", "template": "alert"}, "exactly one"),
        ({"idempotency_key": "k", "to": ["0712345678"], "template": "../x"}, "template"),
        ({"idempotency_key": "k", "to": [["nested"]], "text": "a"}, "to"),
        ({"idempotency_key": "k", "to": ["0712345678"], "text": "a", "tempalte": "alert"}, "tempalte"),
        ({"idempotency_key": "k\n", "to": ["0712345678"], "text": "a", "route": "fax"}, "route"),
        ({"idempotency_key": "", "to": ["0712345678"], "text": "a"}, "idempotency_key"),
    ],
)
def test_invalid_messages_name_the_problem(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        OutboxMessage.model_validate(body)
    assert field in str(caught.value)


def test_the_key_of_an_otherwise_invalid_body_is_still_found() -> None:
    assert key_of('{"idempotency_key": " alert-1 ", "to": 5}') == "alert-1"
    assert key_of("not json") is None
    assert key_of("[1, 2]") is None
    assert key_of('{"idempotency_key": 7}') is None
