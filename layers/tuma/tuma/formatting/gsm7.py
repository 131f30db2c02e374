"""GSM 03.38 text: fold look-alikes into the 7-bit alphabet, count billed parts, refuse the rest.

A text that leaves here has been checked before it costs money: every character is in the GSM7
default alphabet or its extension table, and the number of parts is within the caller's limit.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# The default alphabet, in code-point order of the 3GPP TS 23.038 table (ESC at 0x1B omitted).
BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Reached through ESC, so each costs two septets. The form feed (page break) is left out on purpose:
# handsets render it inconsistently.
EXTENSION = frozenset("^{}\\[~]|€")

SINGLE_PART_SEPTETS = 160
MULTI_PART_SEPTETS = 153  # the user-data header of a concatenated SMS takes 7 septets

# Characters people paste from word processors and phones, and what they should become. Accented
# letters are handled by decomposition below, so only non-letters need listing here.
_LOOK_ALIKES: dict[str, str] = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "`": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2004": " ",
    "\u2005": " ",
    "\u2006": " ",
    "\u2007": " ",
    "\u2008": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u205f": " ",
    "\u3000": " ",
    "\t": " ",
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\u2060": "",
    "\ufeff": "",
    "\u2022": "-",
    "\u00b7": "-",
    "\u00d7": "x",
    "\u2122": "TM",
    "\u00a9": "(C)",
    "\u00ae": "(R)",
    # GSM7 has only the capital Ç: "FranÇoise" reads wrong to a Kenyan reader, "Francoise" does not.
    "\u00e7": "c",
}


class TextRejected(ValueError):
    """The text cannot be sent: not representable in GSM7, empty, or longer than allowed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SmsText:
    text: str
    septets: int
    parts: int


def septets(char: str) -> int:
    return 2 if char in EXTENSION else 1


def is_gsm7(text: str) -> bool:
    return all(c in BASIC or c in EXTENSION for c in text)


def _fold_char(char: str) -> str | None:
    if char in BASIC or char in EXTENSION:
        return char
    if char in _LOOK_ALIKES:
        return _LOOK_ALIKES[char]
    # Strip diacritics: "á" decomposes to "a" + U+0301, and the base letter is GSM7.
    decomposed = unicodedata.normalize("NFKD", char)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    if base and all(c in BASIC or c in EXTENSION for c in base):
        return base
    return None


def fold(text: str) -> str:
    """Return `text` in GSM7, replacing look-alikes; raise TextRejected naming what cannot be folded."""
    text = text.replace("\r\n", "\n")
    out: list[str] = []
    bad: list[str] = []
    for char in text:
        folded = _fold_char(char)
        if folded is None:
            if char not in bad:
                bad.append(char)
        else:
            out.append(folded)
    if bad:
        shown = ", ".join(f"U+{ord(c):04X}" for c in bad[:5])
        raise TextRejected(f"text has characters outside GSM7 with no look-alike: {shown}")
    return "".join(out)


def clean(text: str) -> str:
    """Data (a payer's name, an account, an alert's details) as an SMS can carry it, never refused.

    The rules, in order: look-alikes fold as in `fold` (smart quotes, dashes, accented letters to
    their base letter where GSM7 lacks them); format characters (bidi controls, zero-width joiners
    and spaces, soft hyphens) are dropped; control characters and anything else with no look-alike
    (emoji, other scripts) become a space; runs of spaces collapse and the ends are trimmed. A value
    made only of such characters cleans to the empty string.
    """
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if category == "Cf":
            continue
        folded = None if category == "Cc" else _fold_char(char)
        out.append(" " if folded is None else folded)
    return " ".join("".join(out).split())


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, ending in "..." when something was cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 3)].rstrip() + "..."


def count_septets(text: str) -> int:
    return sum(septets(c) for c in text)


def count_parts(text: str) -> int:
    """Billed parts of a GSM7 text. An escaped character never straddles two parts."""
    total = count_septets(text)
    if total == 0:
        return 0
    if total <= SINGLE_PART_SEPTETS:
        return 1
    parts, used = 1, 0
    for char in text:
        size = septets(char)
        if used + size > MULTI_PART_SEPTETS:
            parts += 1
            used = 0
        used += size
    return parts


def prepare(text: str, *, max_parts: int) -> SmsText:
    """Fold, tidy and measure a text; refuse it when empty or over `max_parts` parts."""
    folded = fold(text).strip()
    if not folded:
        raise TextRejected("text is empty")
    total = count_septets(folded)
    parts = count_parts(folded)
    if parts > max_parts:
        raise TextRejected(f"text needs {parts} SMS parts ({total} septets); the limit is {max_parts}")
    return SmsText(text=folded, septets=total, parts=parts)
