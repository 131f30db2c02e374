"""Schemathesis hooks for the contract test (tests/e2e/test_contract.py), loaded by `st run` through
SCHEMATHESIS_HOOKS: sign what the document says is signed, as a business's generated client would,
and excuse, field by field, what no schema can say.

The JSON body is serialized here, once, so the bytes signed are the bytes sent. The excuses are made
when a case is generated, before it is signed: an edit after signing would break the body's digest.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

import schemathesis
from requests.structures import CaseInsensitiveDict

from tuma_cli.api_signing import ApiKeyCredentials, signature_headers

KEY = ApiKeyCredentials(os.environ.get("TUMA_API_KEY_ID", ""), os.environ.get("TUMA_API_KEY_SECRET", ""))
BASE_URL = os.environ.get("TUMA_BASE_URL", "")


def _raw(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return text.encode("utf-8", "surrogatepass")


@schemathesis.serializer("application/json")
def serialize_json(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    return _raw(value)


# Valid only where Kenya's numbering plan says so (libphonenumber's metadata, which changes as ranges
# are allocated): no pattern can say which nine-digit numbers exist. In a case meant to be accepted,
# these fields get a number that is; every other field is held to the document as generated.
EXCUSED_NUMBERS = ("phone", "number")
# send_at is refused more than 35 days after the moment of the request, a limit relative to the
# clock; paid_at takes the several ways producers write a time (its description lists them), which
# no one pattern states without admitting impossible dates. Null means now, or unknown.
EXCUSED_TIMES = ("send_at", "paid_at")
VALID_NUMBER = "0712345678"


@schemathesis.hook
def map_case(context: Any, case: schemathesis.Case[Any]) -> schemathesis.Case[Any]:
    positive = case.meta is not None and case.meta.generation.mode.name == "POSITIVE"
    if positive and isinstance(case.body, dict):
        for name in EXCUSED_NUMBERS:
            if name in case.body:
                case.body[name] = VALID_NUMBER
        for name in EXCUSED_TIMES:
            if name in case.body:
                case.body[name] = None
    return case


@schemathesis.auth()
class TumaSignature:
    """RFC 9421 over the method, the path as sent and the raw body, with the topology's API key (an
    auth provider, so that Schemathesis's own checks can send the request without it)."""

    def get(self, case: schemathesis.Case[Any], ctx: schemathesis.AuthContext) -> ApiKeyCredentials:
        return KEY

    def set(
        self, case: schemathesis.Case[Any], data: ApiKeyCredentials, ctx: schemathesis.AuthContext
    ) -> None:
        security = case.operation.definition.raw.get("security") or []
        if not any("signature" in requirement for requirement in security):
            return
        body = None if case.method.upper() in ("GET", "DELETE") else _raw(case.body)
        url = BASE_URL + quote(case.formatted_path, safe="/:@!$&'()*+,;=-._~%")
        case.headers = case.headers or CaseInsensitiveDict()
        case.headers.update(signature_headers(data, case.method, url, body))
