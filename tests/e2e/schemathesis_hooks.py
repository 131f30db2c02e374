"""Schemathesis hooks for the contract test (tests/e2e/test_contract.py), loaded by `st run` through
SCHEMATHESIS_HOOKS: sign what the document says is signed, as a business's generated client would.

The JSON body is serialized here, once, so the bytes signed are the bytes sent.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import schemathesis
from requests.structures import CaseInsensitiveDict
from tuma.security.signing import signature

KEY = os.environ.get("TUMA_HMAC_KEY", "").encode()


def _raw(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return text.encode("utf-8", "surrogatepass")


@schemathesis.serializer("application/json")
def serialize_json(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    return _raw(value)


@schemathesis.auth()
class TumaSignature:
    """X-Tuma-Timestamp and X-Tuma-Signature over the raw body, or over the path for GET and DELETE."""

    def get(self, case: schemathesis.Case[Any], ctx: schemathesis.AuthContext) -> bytes:
        return KEY

    def set(self, case: schemathesis.Case[Any], data: bytes, ctx: schemathesis.AuthContext) -> None:
        security = case.operation.definition.raw.get("security") or []
        if not any("tumaSignature" in requirement for requirement in security):
            return
        stamp = str(int(time.time()))
        signed = case.formatted_path.encode() if case.method.upper() in ("GET", "DELETE") else _raw(case.body)
        case.headers = case.headers or CaseInsensitiveDict()
        case.headers.update({"X-Tuma-Timestamp": stamp, "X-Tuma-Signature": signature(data, stamp, signed)})
