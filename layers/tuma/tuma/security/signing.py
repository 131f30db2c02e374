"""Signed webhooks: HMAC-SHA256 over `timestamp.body`, compared in constant time, five-minute window.

    X-Tuma-Timestamp: 1732440000            (unix seconds)
    X-Tuma-Signature: sha256=<hex of HMAC-SHA256(key, "1732440000." + raw body)>

The timestamp is inside the signed bytes, so an old request cannot be replayed with a new one.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

SIGNATURE_HEADER = "x-tuma-signature"
TIMESTAMP_HEADER = "x-tuma-timestamp"
WINDOW_SECONDS = 300


def signature(key: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(
    key: bytes, timestamp: str | None, given: str | None, body: bytes, now: Callable[[], float] = time.time
) -> str | None:
    """None when the request is authentic and fresh; otherwise why it is refused."""
    if not timestamp or not given:
        return "missing X-Tuma-Timestamp or X-Tuma-Signature"
    if not timestamp.strip().isdigit() or len(timestamp.strip()) > 12:
        return "X-Tuma-Timestamp must be unix seconds"
    if abs(now() - int(timestamp.strip())) > WINDOW_SECONDS:
        return "X-Tuma-Timestamp is outside the 5-minute window"
    expected = signature(key, timestamp.strip(), body)
    if not hmac.compare_digest(expected.encode(), given.strip().encode("utf-8", "replace")):
        return "signature does not match"
    return None
