"""Numbers as they may appear in logs, pages and the ledger.

Apart from tuma.formatting.phones: masking (log redaction, in every function) parses nothing.
"""

from __future__ import annotations

import re

# Safaricom's hashed MSISDN: SHA-256 hex of the 254… form.
HASHED_MSISDN = re.compile(r"^[0-9a-fA-F]{64}$")
MASK_CHARS = re.compile(r"[*xX#•]")


def mask(value: str) -> str:
    """Mask a number (or digest) for logs: `2547*****678`; digests keep a short prefix."""
    if HASHED_MSISDN.match(value):
        return f"sha256:{value[:8].lower()}…"
    if MASK_CHARS.search(value):
        return value  # masked at the source already
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:4]}{'*' * (len(digits) - 7)}{digits[-3:]}"


# Four digits or more, possibly split by a space or a dash (`482 913`, `48-29-13`): a code's shape.
_CODE_SHAPE = re.compile(r"\d(?:[ -]?\d){3,}")


def mask_codes(text: str, codes: tuple[str, ...] = ()) -> str:
    """A one-time code's message as it may be kept: every code given (whatever its length) and every
    run of four digits or more starred out, so that no one reading the ledger can use it."""
    for code in sorted((c for c in codes if c.strip()), key=len, reverse=True):
        text = text.replace(code, "*" * len(code))
    return _CODE_SHAPE.sub(lambda m: re.sub(r"\d", "*", m.group()), text)
