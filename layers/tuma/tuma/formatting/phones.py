"""Recipients: every Kenyan way of writing a number, Safaricom's hashed MSISDNs, and masked ones.

The provider wants `2547XXXXXXXX` / `2541XXXXXXXX`. M-Pesa callbacks may carry a SHA-256 digest of
that form (sendable only through the hashed OTP route) or a masked number (not sendable at all).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

from tuma.security.masking import HASHED_MSISDN, MASK_CHARS, mask
from tuma.security.number_keys import in_use

_SEPARATORS = re.compile(r"[\s\-.()/]")
_KENYA = 254
# The provider's country. A number of another country is refused before it costs anything, unless
# the business allows that country (the sender's ALLOWED_COUNTRY_CODES).
KENYA_ONLY = frozenset({_KENYA})


class RecipientKind(StrEnum):
    MSISDN = "msisdn"
    HASHED = "hashed"
    MASKED = "masked"


class InvalidNumber(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Recipient:
    kind: RecipientKind
    # `254…` digits, a lower-case SHA-256 hex digest, or the masked text as received.
    value: str

    @property
    def sendable(self) -> bool:
        return self.kind is not RecipientKind.MASKED

    @property
    def masked(self) -> str:
        """The form that may appear in logs and the ledger."""
        return mask(self.value)

    @property
    def digest(self) -> str:
        """The first 96 bits of SHA-256 of the `254…` form (for a hash, of itself; for a masked number,
        of the text): unkeyed, so never stored for a sendable number; `ref` keys it."""
        if self.kind is RecipientKind.HASHED:
            return self.value[:24]
        return hashlib.sha256(self.value.encode()).hexdigest()[:24]

    @property
    def ref(self) -> str:
        """A stable key for this recipient that does not reveal the number: keyed with the stack's
        privacy key for a sendable one (tuma.security.number_keys); a masked one reveals no more
        than its text."""
        if self.kind is RecipientKind.MASKED:
            return f"m:{self.digest}"
        return in_use().ref(self.digest, hashed=self.kind is RecipientKind.HASHED)

    @property
    def legacy_ref(self) -> str | None:
        """The ref a sendable number had before 0.3.0 (the unkeyed digest): what claims and entries
        made then are named by."""
        if self.kind is RecipientKind.MASKED:
            return None
        return f"{'h' if self.kind is RecipientKind.HASHED else 'n'}:{self.digest}"


def parse_recipient(raw: str | int, countries: frozenset[int] = KENYA_ONLY) -> Recipient:
    """Classify and normalise one recipient; raise InvalidNumber with the reason when it is unusable.
    A number is read as Kenyan unless it says otherwise (`+256…`); only `countries` are accepted."""
    text = str(raw).strip()
    if not text:
        raise InvalidNumber("empty number")
    if HASHED_MSISDN.match(text):
        return Recipient(RecipientKind.HASHED, text.lower())
    compact = _SEPARATORS.sub("", text)
    if MASK_CHARS.search(compact) and re.fullmatch(r"\+?[0-9*xX#•]+", compact):
        return Recipient(RecipientKind.MASKED, " ".join(text.split()))
    if not re.fullmatch(r"\+?[0-9]+", compact):
        raise InvalidNumber("number contains characters other than digits")
    if len(compact.lstrip("+")) > 15:
        raise InvalidNumber("number is too long")
    return Recipient(RecipientKind.MSISDN, _msisdn(compact, countries))


def _msisdn(compact: str, countries: frozenset[int]) -> str:
    """A number of one of `countries` (read as Kenyan unless it says otherwise), as the provider
    wants it: country code and national number, digits only."""
    # Loaded at the first number parsed (~1 MB, ~30 ms here): the webhooks containers that only
    # see delivery reports and lookups never need it.
    import phonenumbers

    try:
        parsed = phonenumbers.parse(compact, "KE")
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"not a phone number ({exc.error_type})") from exc
    if parsed.country_code not in countries:
        if countries == KENYA_ONLY:
            raise InvalidNumber("not a Kenyan number")
        raise InvalidNumber(f"+{parsed.country_code} is not an allowed country (ALLOWED_COUNTRY_CODES)")
    where = "Kenyan" if parsed.country_code == _KENYA else f"+{parsed.country_code}"
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber(f"not a valid {where} number")
    if phonenumbers.number_type(parsed) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise InvalidNumber("not a mobile number")
    return f"{parsed.country_code}{parsed.national_number}"


def hash_msisdn(msisdn: str) -> str:
    """Safaricom's hashed form: SHA-256 of the `254…` number, hex."""
    return hashlib.sha256(msisdn.encode()).hexdigest()
