"""Keep secrets and phone numbers out of logs, exceptions and anything echoed from the provider."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from tuma.security.masking import mask

SECRET_KEYS = frozenset(
    {
        "apikey",
        "api_key",
        "apiKey",
        "partnerID",
        "partner_id",
        "partnerId",
        "password",
        "pass",
        "hmac_key",
        "path_token",
        "token",
        "secret",
        "authorization",
        "Authorization",
    }
)
PHONE_KEYS = frozenset(
    {"mobile", "msisdn", "MSISDN", "phone", "PhoneNumber", "phone_number", "to", "recipient", "recipients"}
)
REDACTED = "***"

# Kenyan numbers in any of the forms people write them, inside free text.
_PHONE_IN_TEXT = re.compile(r"(?<![\w])(?:\+?254|0)[ -]?[17]\d{2}[ -]?\d{3}[ -]?\d{3}(?![\w])")

_known_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Remember a secret value so that it is scrubbed wherever it turns up in a log line."""
    if len(value) >= 6:
        with _lock:
            _known_secrets.add(value)


def scrub_text(text: str) -> str:
    """Mask phone numbers and blank out every registered secret in free text."""
    for secret in tuple(_known_secrets):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _PHONE_IN_TEXT.sub(lambda m: mask(m.group(0)), text)


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with credentials blanked and numbers masked (by key and in text)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in SECRET_KEYS:
                out[key] = REDACTED
            elif key in PHONE_KEYS:
                out[key] = _mask_any(item)
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def _mask_any(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_mask_any(v) for v in value]
    if isinstance(value, str | int):
        return mask(str(value))
    return REDACTED if value is not None else None
