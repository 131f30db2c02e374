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
