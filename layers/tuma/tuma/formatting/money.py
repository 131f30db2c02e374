"""Money as Kenyan systems write it, read by one strict parser, and shown as `KES 1,500.00`.

A receipt is a financial document: a figure that could be read two ways is refused, never guessed
and never rounded. Accepted: `1500`, `1500.5`, `1500.50`, `1,500.00` (commas only as thousands
separators, in groups of three), JSON numbers, DynamoDB numbers (Decimal). Refused: a comma as the
decimal mark (`1.500,00`, `12,5`), exponents (`1e3`), NaN and infinities, a third decimal that is
not zero, booleans, more than 15 digits before the point and, for payments, zero or less.
"""

from __future__ import annotations

import re
from decimal import Decimal

CENT = Decimal("0.01")
_MAX_DIGITS = 15  # far beyond any payment; keeps every figure exact in Decimal's 28 digits
# Digits with optional thousands separators (every group of three), then optional decimals.
# ASCII digits only: other scripts' digits are refused rather than read.
_WRITTEN = re.compile(r"^(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]{1,2})?$")
_DECIMAL_COMMA = re.compile(r"^[0-9.]*,[0-9]{1,2}$|^[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?$")
_TOO_PRECISE = re.compile(r"^[0-9,]+\.[0-9]{3,}$")


class AmountError(ValueError):
    """The value is not an amount Tuma will put on a receipt; the text says why."""


def parse_amount(value: object, *, positive: bool = True) -> Decimal:
    """The exact amount `value` states, as given (`"1,500"` → 1500, `99.5` → 99.5).

    `positive=False` admits zero and negative figures (a provider's credit can be overdrawn; a
    template may show a balance); a payment is always positive.
    """
    if isinstance(value, bool) or value is None:
        raise AmountError("amount is required and must be a number")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float | str):
        # repr of a float is the shortest text that reads back as it: 1500.5, 0.30000000000000004, 1e+20.
        amount = _from_text(repr(value) if isinstance(value, float) else value, signed=not positive)
    else:
        raise AmountError("amount must be a number or a string of digits")
    if not amount.is_finite():
        raise AmountError("amount is not a finite number")
    if amount.adjusted() >= _MAX_DIGITS:
        raise AmountError("amount is too large")
    if amount != amount.quantize(CENT):
        raise AmountError("amount has more than two decimals")
    if positive and amount <= 0:
        raise AmountError("amount must be more than zero")
    # A DynamoDB number may come back as 1E+3: keep the figure, written with digits.
    return amount if int(amount.as_tuple().exponent) <= 0 else amount.quantize(Decimal(1))


def _from_text(text: str, *, signed: bool) -> Decimal:
    raw = text.strip()
    shown = raw[:20]
    if not raw:
        raise AmountError("amount is required and must be a number")
    sign = ""
    if raw.startswith("-"):
        if not signed:
            raise AmountError("amount must be more than zero")
        sign, raw = "-", raw[1:].strip()
    if raw.lower().lstrip("+") in ("nan", "inf", "infinity"):
        raise AmountError("amount is not a finite number")
    if not _WRITTEN.match(raw):
        if _TOO_PRECISE.match(raw):
            # `1.500` is one and a half to some writers and fifteen hundred to others.
            raise AmountError(f"amount {shown!r} has more than two decimals (or a point between thousands)")
        if _DECIMAL_COMMA.match(raw):
            raise AmountError(f"amount {shown!r} is written the European way (1.500,00): write 1500.00")
        raise AmountError(f"amount {shown!r} is not written as digits with an optional decimal point")
    return Decimal(sign + raw.replace(",", ""))


def format_money(amount: Decimal, currency: object = "KES") -> str:
    code = str(currency or "KES").strip().upper()[:3] or "KES"
    return f"{code} {amount.quantize(CENT):,.2f}"
