"""What each template kind is, described once: the variables it may use and must show, its best and
worst data (what saving a template is measured with), its category, and how its messages travel
(lane, who receives them when no `to` is given, how they are deduplicated, the guards' category, and
whether the ledger keeps them masked). The outbox message, planning, the guards and the template
editor all read it from here; the field limits the worst cases are built from live here too.

No jinja here: the webhooks function reads the lanes at every cold start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tuma.models.privacy import MessageCategory


class TemplateError(ValueError):
    """The message cannot be rendered: unknown template, missing or malformed data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# How long each data field may be in an SMS, after cleaning (`gsm7.clean`); longer values end in
# "...". Only the SMS is shortened: the outbox message and the ledger keep what was received.
DATA_LIMITS: dict[str, int] = {
    "name": 30,
    "account": 24,
    "reference": 24,
    "business": 40,
    "business_contact": 40,
    "title": 50,
    "host": 24,
    "severity": 12,
    "details": 80,
    "alarm": 80,
    "region": 30,
    "reason": 300,
    "offer": 100,
    "until": 30,
    "code": 10,
    "purpose": 30,
}
DEFAULT_DATA_LIMIT = 60
# Values that filters read (money, when) or that are short by construction: cleaned, never cut.
UNSHORTENED = frozenset({"amount", "currency", "paid_at", "at", "credit", "threshold", "state"})


def data_limit(field: str) -> int | None:
    return None if field in UNSHORTENED else DATA_LIMITS.get(field, DEFAULT_DATA_LIMIT)


IDENTITY = ("business", "business_contact")  # the business's own name and contact, in every kind
WIDE = "€"  # a GSM7 extension character: two septets, the costliest a cleaned value can hold


@dataclass(frozen=True)
class Kind:
    name: str
    variables: tuple[str, ...]
    must_show: tuple[str, ...]
    best: Mapping[str, Any]  # the shortest data a real message carries
    worst: Mapping[str, Any]  # the longest, beyond the data rules' limits
    # A promotional kind's messages carry the opt-out footer, go only inside the sending window and
    # only to numbers that consented (tuma.services.privacy).
    category: MessageCategory = MessageCategory.TRANSACTIONAL
    # Its messages carry a one-time code: the ledger, and so the console, keep them with digits masked.
    secret: bool = False
    # Someone is waiting for it (a payer, a user, an engineer): the fast lane.
    fast: bool = False
    # For the business's own people: without `to` it goes to ALERT_RECIPIENTS; never promotional.
    operator: bool = False
    # One message per business event, whoever it goes to (a payment seen twice, by two sources).
    per_event: bool = False
    # The guards' category (tuma.services.guards.Category) of its messages.
    guard: str = "message"

    def data(self, given: Mapping[str, Any], identity: Mapping[str, str] | None = None) -> dict[str, Any]:
        """What a template of this kind is filled with: every variable it may use is there (empty
        when the message has no value for it), so `{% if name %}` never fails on a missing name.
        What the kind must show cannot be missing: a receipt without its receipt number is refused."""
        missing = [v for v in self.must_show if given.get(v) in (None, "")]
        if missing:
            raise TemplateError(f"a {self.name} needs {' and '.join(missing)} in its data")
        return {**dict.fromkeys(self.variables, ""), **(identity or {}), **given}


def _longest(field_name: str) -> str:
    limit = data_limit(field_name) or 30
    return WIDE * limit


KINDS: dict[str, Kind] = {
    "receipt": Kind(
        "receipt",
        ("reference", "amount", "currency", "name", "account", "paid_at", "short_code", "source", *IDENTITY),
        ("reference", "amount"),
        {"reference": "QKX1AB2CD3", "amount": "50", "currency": "KES"},
        {
            "reference": "Q" * 24,
            "amount": "999999999.99",
            "currency": "KES",
            "name": _longest("name"),
            "account": _longest("account"),
            "paid_at": "2026-12-31T23:59:00+03:00",
            "short_code": "9" * 10,
            "source": "payments-table",
            "business": _longest("business"),
            "business_contact": _longest("business_contact"),
        },
        fast=True,
        per_event=True,
        guard="receipt",
    ),
    "alert": Kind(
        "alert",
        ("title", "host", "severity", "details", "at", *IDENTITY),
        ("title",),
        {"title": "Disk full"},
        {
            "title": _longest("title"),
            "host": _longest("host"),
            "severity": _longest("severity"),
            "details": _longest("details"),
            "at": "2026-12-31T23:59:00+03:00",
            "business": _longest("business"),
            "business_contact": _longest("business_contact"),
        },
        fast=True,
        operator=True,
        guard="alert",
    ),
    "alarm": Kind(
        "alarm",
        ("alarm", "state", "region", "reason", *IDENTITY),
        ("alarm",),
        {"alarm": "tuma-LowCredit", "state": "ALARM"},
        {
            "alarm": _longest("alarm"),
            "state": "INSUFFICIENT_DATA",
            "region": _longest("region"),
            "reason": "",
        },
        fast=True,
        operator=True,
        guard="alert",
    ),
    "alarm_ok": Kind(
        "alarm_ok",
        ("alarm", "state", "region", "reason", *IDENTITY),
        ("alarm",),
        {"alarm": "tuma-LowCredit", "state": "OK"},
        {"alarm": _longest("alarm"), "state": "OK", "region": _longest("region"), "reason": ""},
        fast=True,
        operator=True,
        guard="alert",
    ),
    "low_credit": Kind(
        "low_credit",
        ("credit", "threshold", "provider", *IDENTITY),
        ("credit",),
        {"credit": "120.00", "threshold": "500.00"},
        {"credit": "9,999,999.99", "threshold": "9,999,999.99", "provider": "secondary"},
        fast=True,
        operator=True,
        guard="alert",
    ),
    "code": Kind(
        "code",
        ("code", "minutes", "purpose", *IDENTITY),
        ("code",),
        {"code": "4821"},
        {
            "code": _longest("code"),
            "minutes": "999",
            "purpose": _longest("purpose"),
            "business": _longest("business"),
            "business_contact": _longest("business_contact"),
        },
        secret=True,
        fast=True,
        guard="code",
    ),
    "promotion": Kind(
        "promotion",
        ("name", "offer", "until", "account", *IDENTITY),
        ("offer",),
        {"offer": "20% off school uniforms"},
        {
            "name": _longest("name"),
            "offer": _longest("offer"),
            "until": _longest("until"),
            "account": _longest("account"),
            "business": _longest("business"),
            "business_contact": _longest("business_contact"),
        },
        MessageCategory.PROMOTIONAL,
    ),
}


def kind_of(name: str) -> str | None:
    """The kind of a packaged template (each is named after its kind)."""
    return name if name in KINDS else None


# What the outbox message and planning read of the table.
FAST_KINDS = frozenset(name for name, kind in KINDS.items() if kind.fast)
OPERATOR_KINDS = frozenset(name for name, kind in KINDS.items() if kind.operator)
PER_EVENT_KINDS = frozenset(name for name, kind in KINDS.items() if kind.per_event)
