"""Standard Webhooks (standardwebhooks.com): how Tuma signs the status events it POSTs.

    webhook-id: <the event's id>            webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256(secret, id + "." + timestamp + "." + body)> [v1,... ]

The secret is base64 (optionally prefixed `whsec_`), the one StatusWebhookSecret holds; while a
rotation's grace lasts, the event carries one signature per live secret, space-separated, so that a
receiver holding either verifies it. A receiver verifies with any `standardwebhooks` library
(tests/unit/test_status_events.py holds this signer to the Python one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

PREFIX = "whsec_"


def signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX) + "==")
    mac = hmac.new(key, f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(secrets: Sequence[str], event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(secret, event_id, timestamp, body) for secret in secrets),
    }
