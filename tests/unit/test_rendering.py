from __future__ import annotations

from decimal import Decimal

import pytest
from tuma.formatting.rendering import available_templates, money, render
from tuma.models.kinds import TemplateError

RECEIPT = {
    "reference": "NLJ7RT61SV",
    "amount": "1500",
    "name": "Wanjiku",
    "account": "INV-42",
    "paid_at": "20191219102115",
}


def test_receipt_in_english() -> None:
    assert render("receipt", RECEIPT) == (
        "NLJ7RT61SV confirmed. We have received KES 1,500.00 from Wanjiku for account INV-42 "
        "on 19/12/2019 10:21. Thank you."
    )


def test_receipt_in_swahili() -> None:
    assert render("receipt", RECEIPT, "sw") == (
        "NLJ7RT61SV imethibitishwa. Tumepokea KES 1,500.00 kutoka kwa Wanjiku kwa akaunti INV-42 "
        "tarehe 19/12/2019 10:21. Asante."
    )


def test_optional_fields_leave_no_gaps() -> None:
    assert render("receipt", {"reference": "LGR7OWQX0R", "amount": 1}) == (
        "LGR7OWQX0R confirmed. We have received KES 1.00. Thank you."
    )


@pytest.mark.parametrize(
    "name",
    [
        "{{7*7}}",
        "{0.__class__}",
        "{% for x in range(10) %}x{% endfor %}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "%(apikey)s",
        "${SMS_API_BASE_URL}",
    ],
)
def test_data_is_text_never_evaluated(name: str) -> None:
    text = render("receipt", RECEIPT | {"name": name})
    shown = name if len(name) <= 30 else name[:27].rstrip() + "..."  # names are shortened for the SMS
    assert f"from {shown} for account" in text


def test_whitespace_in_data_cannot_inflate_the_message() -> None:
    text = render("receipt", RECEIPT | {"name": "John\n\n\n   Doe\t"})
    assert "from John Doe for account" in text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1500", "KES 1,500.00"),
        (1500, "KES 1,500.00"),
        (1500.5, "KES 1,500.50"),
        (Decimal("1234567.89"), "KES 1,234,567.89"),
        ("10.00", "KES 10.00"),
        ("1,000", "KES 1,000.00"),
        (0, "KES 0.00"),
    ],
)
def test_money_is_formatted_the_kenyan_way(value: Decimal | str | int, expected: str) -> None:
    assert money(value) == expected


@pytest.mark.parametrize("value", ["ten", True, "NaN", "Infinity", None])
def test_money_refuses_what_is_not_an_amount(value: bool | str | None) -> None:
    with pytest.raises(TemplateError):
        money(value)


def test_currency_other_than_kes() -> None:
    assert render("receipt", RECEIPT | {"currency": "usd"}).count("USD 1,500.00") == 1


def test_missing_data_is_an_error_naming_the_field() -> None:
    with pytest.raises(TemplateError) as caught:
        render("receipt", {"amount": 10})
    assert "reference" in caught.value.reason


def test_unknown_template_and_bad_names_are_errors() -> None:
    with pytest.raises(TemplateError, match="unknown template"):
        render("nosuch", {})
    with pytest.raises(TemplateError, match="invalid template name"):
        render("../etc/passwd", {})
    with pytest.raises(TemplateError, match="invalid language"):
        render("receipt", RECEIPT, "english")


def test_a_language_without_a_translation_falls_back_to_english() -> None:
    assert render("receipt", RECEIPT, "fr") == render("receipt", RECEIPT, "en")


def test_a_bad_date_is_an_error_not_a_crash() -> None:
    with pytest.raises(TemplateError, match="not a recognised time"):
        render("receipt", RECEIPT | {"paid_at": "yesterday"})


def test_alert_template() -> None:
    text = render("alert", {"title": "Disk full", "host": "db-1", "severity": "critical"})
    assert text == "ALERT [CRITICAL]: Disk full on db-1"
    assert render("alert", {"title": "Disk full"}, "sw") == "TAHADHARI: Disk full"


def test_every_template_exists_in_english_and_swahili() -> None:
    pairs = available_templates()
    names = {name for name, _ in pairs}
    assert {"receipt", "alert"} <= names
    for name in names:
        assert (name, "en") in pairs
        assert (name, "sw") in pairs
