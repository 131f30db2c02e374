"""A number's keyed hash: how the ledger, the suppression list, the consent record and the guards'
counters name a person.

An unkeyed digest of a Kenyan number is no secret: there are about a billion numbers, and hashing
them all takes minutes; next to the masked number (first 4 and last 3 digits) only 10^5 are left,
tried in milliseconds. Keyed with the stack's privacy key (PRIVACY_SECRET, never rotated: a new key
would orphan every entry), a stored name reveals nothing to whoever reads the table without the key.

The key is taken over the number's digest (the first 96 bits of SHA-256 of the `254…` form, which
are also the first 96 bits of Safaricom's hash of it: `Recipient.digest`), so the number and
Safaricom's hash lead to the same keyed hash. A ledger entry's ref is that keyed hash itself
(`k:<64 hex>` for a number, `kh:<64 hex>` for Safaricom's hash), so a delivery report, which knows
only the entry, names the same person as the suppression list does.

Before 0.3.0 the ledger named a number by the unkeyed digest (`n:<24 hex>`, `h:<24 hex>`); those
refs are still understood (`of_ref`), and each keyed ref has exactly one such legacy ref, so a claim
made under one still stops a second SMS (tuma.services.send_path.claiming).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING

from tuma.errors import ConfigurationError

if TYPE_CHECKING:
    from tuma.formatting.phones import Recipient

KNOWN_AT_MOST = 10_000  # a warm container's memory of keyed hashes: a few hundred KB
# The keyed ref's prefix by the legacy one's: a number, Safaricom's hash of one.
KEYED_PREFIX = {"n": "k", "h": "kh"}
_DIGEST_HEX, _KEYED_HEX = 24, 64


class NumberKeys:
    def __init__(self, key: Callable[[], bytes]) -> None:
        """`key`: the privacy key, read when first needed (a secret: at most one read per container)."""
        self._source = key
        self._key: bytes | None = None
        # A batch asks for the same numbers several times (the privacy screen, each guard): once each.
        self._known: dict[str, str] = {}

    def of_digest(self, digest: str) -> str:
        """The keyed hash of a number's digest (`Recipient.digest`)."""
        known = self._known.get(digest)
        if known is not None:
            return known
        if self._key is None:
            self._key = self._source()
        if len(self._known) >= KNOWN_AT_MOST:
            self._known.clear()
        keyed = self._known[digest] = hmac.new(self._key, digest.lower().encode(), hashlib.sha256).hexdigest()
        return keyed

    def of_recipient(self, recipient: Recipient) -> str:
        """The keyed hash of a sendable recipient (a number, or Safaricom's hash of one)."""
        return self.of_digest(recipient.digest)

    def of_ref(self, recipient_ref: str) -> str:
        """The keyed hash behind a recipient ref: a keyed one (`k:`, `kh:`) carries it, a legacy one
        (`n:`, `h:`) is keyed here."""
        prefix, _, rest = recipient_ref.partition(":")
        if prefix in KEYED_PREFIX.values() and len(rest) == _KEYED_HEX:
            return rest
        if prefix in KEYED_PREFIX and len(rest) == _DIGEST_HEX:
            return self.of_digest(rest)
        raise ValueError("not the ref of a sendable number")

    def ref(self, digest: str, *, hashed: bool) -> str:
        """The ledger's ref of a number (or, `hashed`, of Safaricom's hash of it) with this digest."""
        return f"{'kh' if hashed else 'k'}:{self.of_digest(digest)}"


def is_number_ref(recipient_ref: str) -> bool:
    """A ref naming a sendable number (keyed or legacy), not a masked one or Tuma's own record."""
    return recipient_ref.partition(":")[0] in (*KEYED_PREFIX, *KEYED_PREFIX.values())


def person_refs(number_key: str, digest: str) -> tuple[str, ...]:
    """Every ref the ledger may name one person by: keyed, and legacy from before 0.3.0."""
    return (f"k:{number_key}", f"kh:{number_key}", f"n:{digest}", f"h:{digest}")


def rate_ref(number_key: str) -> str:
    """The name a number's guard counters carry (`rate#k:…#`): its keyed hash's first 96 bits, so that
    the state table holds no digest anyone without the key can reverse; erasure finds them by it."""
    return f"k:{number_key[:24]}"


# The keys this process names numbers with (tuma.formatting.phones.Recipient.ref): a process serves
# one stack, and every function that writes a ledger entry, and the CLI, names a number the same way.
_in_use: list[NumberKeys] = []


def use(keys: NumberKeys) -> NumberKeys:
    _in_use[:] = [keys]
    return keys


def in_use() -> NumberKeys:
    if not _in_use:
        raise ConfigurationError(
            "numbers are named by a keyed hash, and this process has no privacy key (PRIVACY_SECRET)"
        )
    return _in_use[0]
