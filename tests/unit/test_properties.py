"""Properties over generated inputs: amounts are read exactly or refused, any name leaves a sendable
receipt, any stream record ends in a payment, nothing, or a recorded reason."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tuma.formatting.gsm7 import clean, is_gsm7, prepare
from tuma.formatting.money import AmountError, parse_amount
from tuma.formatting.rendering import render
from tuma.models.payments import AMOUNT_PATTERN, InvalidPayment, Payment
from tuma.services.payment_stream import Attributes, completed_payment

CENTS = st.integers(min_value=1, max_value=100_000_000).map(lambda c: Decimal(c) / 100)


def _written(amount: Decimal, style: int) -> object:
    if style == 0:
        return f"{amount:.2f}"
    if style == 1:
        return f"{amount:,.2f}"
    if style == 2:
        return float(amount)
    if style == 3:
        return amount
    return int(amount) if amount == int(amount) else f"{amount}"


@given(CENTS, st.integers(min_value=0, max_value=4))
def test_every_way_kenyan_systems_write_an_amount_reads_back_exactly(amount: Decimal, style: int) -> None:
    assert parse_amount(_written(amount, style)) == amount


@given(st.text(alphabet="0123456789.,-+eE ", max_size=14))
def test_any_written_amount_is_read_exactly_or_refused(text: str) -> None:
    try:
        amount = parse_amount(text)
    except AmountError:
        return
    digits = text.strip().replace(",", "")
    assert amount == Decimal(digits) and amount > 0 and amount == amount.quantize(Decimal("0.01"))


NAMES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
    max_size=300,
)


@given(NAMES)
def test_any_name_cleans_to_gsm7_without_controls_or_runs_of_spaces(name: str) -> None:
    cleaned = clean(name)
    assert is_gsm7(cleaned) and "  " not in cleaned and cleaned == cleaned.strip()
    assert not any(ch in cleaned for ch in "\n\r\t")


@settings(max_examples=150)
@given(NAMES, NAMES, CENTS)
def test_any_name_and_account_leave_a_receipt_that_can_be_sent(
    name: str, account: str, amount: Decimal
) -> None:
    text = render(
        "receipt",
        {"reference": "QKX1AB2CD3", "amount": str(amount), "name": name, "account": account},
    )
    sms = prepare(text, max_parts=3)  # never refused: GSM7 and within three parts
    assert sms.text.startswith("QKX1AB2CD3 confirmed.") and f"KES {amount:,.2f}" in sms.text


ATTRIBUTE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.text(max_size=20),
        st.decimals(allow_nan=True, allow_infinity=True, places=None),
        st.binary(max_size=8),
        st.frozensets(st.text(max_size=5), max_size=3),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
IMAGE = st.dictionaries(
    st.sampled_from(
        [
            "payment_id",
            "status",
            "amount",
            "currency",
            "phone",
            "name",
            "account",
            "reference",
            "paid_at",
            "x",
        ]
    ),
    ATTRIBUTE,
) | st.fixed_dictionaries(
    {"status": st.just("COMPLETED")},
    optional={"amount": ATTRIBUTE, "reference": ATTRIBUTE, "phone": ATTRIBUTE},
)


@settings(max_examples=300)
@given(st.sampled_from(["INSERT", "MODIFY", "REMOVE", "UPSERT", None]), IMAGE, IMAGE | st.none())
def test_any_stream_record_yields_a_payment_nothing_or_a_recorded_reason(
    event_name: str | None, new: dict[str, Any], old: dict[str, Any] | None
) -> None:
    try:
        result: object = completed_payment(event_name, old, new, Attributes(), {"payment_id": "k"})
    except InvalidPayment as problem:
        result = problem
    if isinstance(result, InvalidPayment):
        assert result.key and result.reason  # recorded under a key, with the reason
    else:
        assert result is None or isinstance(result, Payment)


@given(st.from_regex(AMOUNT_PATTERN, fullmatch=True))
def test_every_amount_the_document_allows_is_one_the_code_takes(text: str) -> None:
    """docs/openapi.json's amount pattern promises no more than parse_amount keeps: more than 0, at most
    1,000,000 (MaxPaymentAmount's default)."""
    amount = parse_amount(text)
    assert Decimal(0) < amount <= Decimal(1_000_000)
