"""A number's keyed hash: how the suppression list and the consent record name a person.

An unkeyed digest of a Kenyan number is no secret: there are about a billion numbers, and hashing
them all takes minutes. Keyed with the stack's privacy key (PRIVACY_SECRET, never rotated: a new key
would orphan every entry), the list reveals nothing to whoever reads the table.

The key is taken over the recipient ref's digest (the first 96 bits of SHA-256 of the `254…` form,
tuma.formatting.phones.Recipient.ref), so the number, Safaricom's hash of it, and a ledger entry's
ref all lead to the same key: a delivery report, which knows only the ledger entry, can add its
number to the list.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

KNOWN_AT_MOST = 10_000  # a warm container's memory of keyed hashes: a few hundred KB


class NumberKeys:
    def __init__(self, key: Callable[[], bytes]) -> None:
        """`key`: the privacy key, read when first needed (a secret: at most one read per container)."""
        self._source = key
        self._key: bytes | None = None
        # A batch asks for the same numbers several times (the privacy screen, each guard): once each.
        self._known: dict[str, str] = {}

    def of_ref(self, recipient_ref: str) -> str:
        """The keyed hash behind a recipient ref (`n:…` for a number, `h:…` for Safaricom's hash)."""
        known = self._known.get(recipient_ref)
        if known is not None:
            return known
        prefix, _, digest = recipient_ref.partition(":")
        if prefix not in ("n", "h") or len(digest) != 24:
            raise ValueError("not the ref of a sendable number")
        if self._key is None:
            self._key = self._source()
        if len(self._known) >= KNOWN_AT_MOST:
            self._known.clear()
        keyed = self._known[recipient_ref] = hmac.new(
            self._key, digest.lower().encode(), hashlib.sha256
        ).hexdigest()
        return keyed


def rate_ref(number_key: str) -> str:
    """The name a number's guard counters carry (`rate#k:…#`): its keyed hash's first 96 bits, so that
    the state table holds no digest anyone without the key can reverse; erasure finds them by it."""
    return f"k:{number_key[:24]}"
