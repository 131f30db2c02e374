"""East Africa Time: M-Pesa and the SMS provider write local times without a zone (UTC+3, no DST)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

EAT = timezone(timedelta(hours=3), "EAT")

_COMPACT = re.compile(r"^\d{14}$")  # M-Pesa's YYYYMMDDHHmmss


def parse_time(value: object) -> datetime:
    """Read a time as M-Pesa, the provider or an ISO-8601 producer writes it; naive means EAT."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        text = str(int(value))
        if _COMPACT.match(text):
            moment = datetime.strptime(text, "%Y%m%d%H%M%S")
        else:
            try:
                return datetime.fromtimestamp(float(value), tz=UTC).astimezone(EAT)
            except (OverflowError, OSError, ValueError):  # beyond the years a datetime can hold
                raise ValueError(f"not a recognised time: {text[:40]!r}") from None
    elif isinstance(value, str):
        text = value.strip()
        if _COMPACT.match(text):
            moment = datetime.strptime(text, "%Y%m%d%H%M%S")
        else:
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"not a recognised time: {text[:40]!r}") from None
    else:
        raise ValueError(f"not a recognised time: {type(value).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=EAT)
    return moment


def format_eat(moment: datetime) -> str:
    """How a Kenyan reader expects a time in an SMS: day first, 24-hour clock, local time."""
    return moment.astimezone(EAT).strftime("%d/%m/%Y %H:%M")


def now_utc() -> datetime:
    return datetime.now(UTC)
