from __future__ import annotations

import hashlib

import pytest
from tuma.formatting.phones import InvalidNumber, RecipientKind, hash_msisdn, parse_recipient
from tuma.security.masking import mask


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0712345678", "254712345678"),
        ("0712 345 678", "254712345678"),
        ("0712-345-678", "254712345678"),
        ("+254712345678", "254712345678"),
        ("+254 712 345 678", "254712345678"),
        ("254712345678", "254712345678"),
        ("712345678", "254712345678"),
        ("(0712) 345.678", "254712345678"),
        (254712345678, "254712345678"),
        ("0110123456", "254110123456"),  # Safaricom's 011x range
        ("0101234567", "254101234567"),  # Airtel's 010x range
        ("+254 110 123 456", "254110123456"),
        ("0733123456", "254733123456"),
        ("0770123456", "254770123456"),
        (" 0722000000 ", "254722000000"),
    ],
)
def test_every_kenyan_form_normalises_to_the_254_form(raw: int | str, expected: str) -> None:
    recipient = parse_recipient(raw)
    assert recipient.kind is RecipientKind.MSISDN
    assert recipient.value == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty number"),
        ("07123", "not a valid Kenyan number"),
        ("2547123456789", "not a valid Kenyan number"),
        ("+255712345678", "not a Kenyan number"),  # Tanzania
        ("+14155550100", "not a Kenyan number"),
        ("0202345678", "not a mobile number"),  # Nairobi landline
        ("07l2345678", "number contains characters other than digits"),
        ("call me", "number contains characters other than digits"),
        ("1" * 40, "number is too long"),
    ],
)
def test_invalid_numbers_are_rejected_with_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidNumber) as caught:
        parse_recipient(raw)
    assert caught.value.reason == reason


@pytest.mark.parametrize("raw", ["25470****149", "2547 ***** 126", "2547XXXXX126", "0712***678"])
def test_masked_numbers_are_recognised_as_undeliverable(raw: str) -> None:
    recipient = parse_recipient(raw)
    assert recipient.kind is RecipientKind.MASKED
    assert not recipient.sendable


def test_sha256_digests_route_to_the_hashed_form_in_lower_case() -> None:
    digest = hashlib.sha256(b"254722000000").hexdigest()
    recipient = parse_recipient(digest.upper())
    assert recipient.kind is RecipientKind.HASHED
    assert recipient.value == digest
    assert recipient.sendable
    assert hash_msisdn("254722000000") == digest


def test_the_hashed_fixture_is_the_digest_of_its_documented_number() -> None:
    from tests.conftest import shared_fixture

    payload = shared_fixture("mpesa/c2b_callback_hashed_msisdn_minimised_2023.json")
    assert parse_recipient(payload["MSISDN"]).value == hash_msisdn("254722000000")


def test_masking_keeps_a_number_recognisable_but_not_usable() -> None:
    assert mask("254712345678") == "2547*****678"
    assert mask("0712345678") == "0712***678"
    assert mask("2547 ***** 126") == "2547 ***** 126"
    assert mask("07123") == "*****"
    assert mask("a" * 64) == "sha256:aaaaaaaa…"


def test_recipient_reference_is_stable_and_reveals_nothing() -> None:
    a, b = parse_recipient("0712345678"), parse_recipient("+254 712 345 678")
    assert a.ref == b.ref
    assert "712345678" not in a.ref
    assert parse_recipient("0712345679").ref != a.ref
