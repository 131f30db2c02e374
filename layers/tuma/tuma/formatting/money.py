"""Money as Kenyan systems write it, read by one parser, and shown as `KES 1,500.00`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def parse_amount(value: object, *, signed: bool = False) -> Decimal:
    """Amounts arrive as strings ("10", "5.00", "1,500"), integers, floats or Decimals.

    `signed` admits negative figures (a provider's credit can be overdrawn); payments never are.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError("amount is required and must be a number")
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise ValueError(f"amount is not a number: {str(value)[:20]!r}") from None
    if not amount.is_finite() or (amount < 0 and not signed):
        raise ValueError("amount must be a non-negative number")
    return amount


def format_money(amount: Decimal, currency: object = "KES") -> str:
    code = str(currency or "KES").strip().upper()[:3] or "KES"
    return f"{code} {amount.quantize(Decimal('0.01')):,.2f}"
