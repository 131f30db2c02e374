from __future__ import annotations

import pytest
from tuma.formatting.gsm7 import (
    BASIC,
    EXTENSION,
    TextRejected,
    count_parts,
    count_septets,
    fold,
    is_gsm7,
    prepare,
)


def test_the_alphabet_has_the_standard_sizes() -> None:
    # 128 code points minus ESC in the default table; 9 extension characters (form feed left out).
    assert len(BASIC) == 127
    assert len(EXTENSION) == 9
    assert not BASIC & EXTENSION


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("“Asante” ‘sana’", "\"Asante\" 'sana'"),
        ("Mon–Fri — open", "Mon-Fri - open"),
        ("Wait…", "Wait..."),
        ("KES\u00a0100", "KES 100"),
        ("naïve façade", "naive facade"),  # GSM7 has only Ç, which reads wrong in a name
        ("Ángela Núñez", "Angela Nuñez"),  # ñ is GSM7, Á and ú are not
        ("Zoë Ōtieno", "Zoe Otieno"),
        ("café è ü", "café è ü"),  # already GSM7: left alone
        ("zero\u200bwidth", "zerowidth"),
        ("tab\there", "tab here"),
        ("line\r\nbreak", "line\nbreak"),
    ],
)
def test_look_alikes_fold_into_gsm7(text: str, expected: str) -> None:
    assert fold(text) == expected
    assert is_gsm7(fold(text))


@pytest.mark.parametrize("text", ["Thanks 🙏", "مرحبا", "价格", "Ω≈"])
def test_text_with_no_gsm7_look_alike_is_rejected_before_it_costs_money(text: str) -> None:
    with pytest.raises(TextRejected) as caught:
        prepare(text, max_parts=3)
    assert "outside GSM7" in caught.value.reason


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 459, 3),
        ("a" * 460, 4),
        ("€" * 80, 1),  # 160 septets
        ("€" * 81, 2),  # 162 septets
        ("a" * 151 + "€" + "a" * 10, 2),  # the escape fits exactly at the end of part one
        ("a" * 152 + "€" + "a" * 152, 3),  # 306 septets, but the escape would straddle: three parts
        ("", 0),
    ],
)
def test_parts_are_counted_in_septets_and_escapes_never_straddle(text: str, parts: int) -> None:
    assert count_parts(text) == parts


def test_extension_characters_cost_two_septets() -> None:
    assert count_septets("{}[]~|^\\€") == 18
    assert count_septets("Hello") == 5


def test_prepare_refuses_texts_over_the_part_limit() -> None:
    assert prepare("a" * 459, max_parts=3).parts == 3
    with pytest.raises(TextRejected) as caught:
        prepare("a" * 460, max_parts=3)
    assert caught.value.reason == "text needs 4 SMS parts (460 septets); the limit is 3"


def test_prepare_refuses_empty_text_and_trims() -> None:
    with pytest.raises(TextRejected):
        prepare(" \u200b ", max_parts=3)
    assert prepare("  hi  ", max_parts=1).text == "hi"
