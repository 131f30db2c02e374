"""Tuma's RFC 9421 verifier, held to the RFC's own HMAC example and to the http-message-signatures
library: what the library signs verifies here; a change to anything signed is refused."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tuma.security.message_signatures import Signature, SignedRequest, read_signature, verify
from tuma.security.structured_fields import FieldError, InnerList, parse_dictionary, serialize_inner_list

from tuma_cli.api_signing import COMPONENTS, ApiKeyCredentials, signature_headers

KEY = ApiKeyCredentials("tk_abcdef12", "q" * 40)
NOW = 1_765_000_000
BASE = "https://abc123.execute-api.af-south-1.amazonaws.com"


def _signed(
    method: str,
    path: str,
    body: bytes = b"",
    nonce: str | None = None,
    components: tuple[str, ...] = COMPONENTS,
) -> dict[str, str]:
    created = datetime.fromtimestamp(NOW, UTC)
    headers = signature_headers(
        KEY, method, BASE + path, body or None, created=created, nonce=nonce, components=components
    )
    return {name.lower(): value for name, value in headers.items()}


def _check(method: str, path: str, body: bytes, headers: dict[str, str], now: float = NOW) -> str | None:
    signature = read_signature(headers)
    if isinstance(signature, str):
        return signature
    return verify(signature, SignedRequest(method, path, "", headers, body), KEY.secret.encode(), now)


def test_rfc_9421_appendix_b_2_5_hmac_sha256_verifies() -> None:
    secret = base64.b64decode(
        "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ=="
    )
    given_input = '("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"'
    member = parse_dictionary(f"sig-b25={given_input}")["sig-b25"]
    assert isinstance(member, InnerList) and serialize_inner_list(member) == given_input
    signature = Signature(
        "sig-b25",
        "test-shared-secret",
        "",
        1618884473,
        None,
        ("date", "@authority", "content-type"),
        serialize_inner_list(member),
        base64.b64decode("pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8="),
    )
    headers = {
        "host": "example.com",
        "date": "Tue, 20 Apr 2021 02:07:55 GMT",
        "content-type": "application/json",
    }
    request = SignedRequest("POST", "/foo", "param=Value&Pet=dog", headers, b"")
    assert verify(signature, request, secret, 1618884473) is None
    assert verify(signature, request, secret[:-1], 1618884473) == "signature does not match this request"


def test_what_the_library_signs_verifies_here() -> None:
    body = b'{"receipt": "QKA1B2C3D4", "amount": "150.00"}'
    assert _check("POST", "/v1/payments", body, _signed("POST", "/v1/payments", body)) is None
    # A message key with ":" (an alert's), as the client sends it: percent-encoded or not.
    for path in ("/v1/messages/alert:42", "/v1/messages/alert%3A42"):
        assert _check("GET", path, b"", _signed("GET", path)) is None
    covered = _signed("POST", "/v1/alerts", b"{}", components=("@method", "@path", "@authority"))
    assert (
        _check("POST", "/v1/alerts", b"{}", covered | {"host": "abc123.execute-api.af-south-1.amazonaws.com"})
        is None
    )


def test_a_signature_is_worthless_on_another_method_path_or_body() -> None:
    body = b'{"number": "0712345678"}'
    headers = _signed("POST", "/v1/consents/withdraw", body)
    assert _check("POST", "/v1/suppressions/remove", body, headers) == "signature does not match this request"
    assert _check("POST", "/v1/consents/withdraw", body.replace(b"12", b"13"), headers) == (
        "Content-Digest does not match the body"
    )
    read = _signed("GET", "/v1/messages/INV-1")
    assert _check("DELETE", "/v1/messages/INV-1", b"", read) == "signature does not match this request"
    assert _check("GET", "/v1/messages/INV-2", b"", read) == "signature does not match this request"
    assert _check("GET", "/messages/INV-1", b"", read) == "signature does not match this request"  # no stage


def test_stale_unsigned_or_underspecified_signatures_are_refused_with_the_reason() -> None:
    body = b"{}"
    headers = _signed("POST", "/v1/alerts", body)
    assert (
        _check("POST", "/v1/alerts", body, headers, now=NOW + 301) == "created is outside the 5-minute window"
    )
    assert "missing" in str(_check("POST", "/v1/alerts", body, {}))
    no_path = _signed("POST", "/v1/alerts", body, components=("@method",))
    assert _check("POST", "/v1/alerts", body, no_path) == "the signature must cover @path"
    no_digest = headers | {"signature-input": headers["signature-input"].replace(' "content-digest"', "")}
    assert "must cover content-digest" in str(_check("POST", "/v1/alerts", body, no_digest))
    no_nonce = _signed("GET", "/v1/messages/x", nonce="short")
    assert "nonce" in str(_check("GET", "/v1/messages/x", b"", no_nonce))
    other_alg = headers | {"signature-input": headers["signature-input"].replace("hmac-sha256", "ed25519")}
    assert _check("POST", "/v1/alerts", body, other_alg) == "alg must be hmac-sha256"
    broken = headers | {"signature": "tuma=not-bytes"}
    assert "byte sequence" in str(_check("POST", "/v1/alerts", body, broken))


@given(st.text(max_size=200))
def test_any_header_text_is_a_reason_or_a_signature_never_a_crash(text: str) -> None:
    found = read_signature({"signature-input": text, "signature": text})
    assert isinstance(found, str | Signature)


@pytest.mark.parametrize("text", ["a=(", 'a=("x" "y"', "a=1,", "A=1", 'a="\\x"', "a=:@@:", "a=1.5"])
def test_malformed_structured_fields_do_not_parse(text: str) -> None:
    with pytest.raises(FieldError):
        parse_dictionary(text)
