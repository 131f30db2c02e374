"""The adversarial corpus itself: every class the issue names is covered, every vector can be judged."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.conftest import ROOT

CORPUS = ROOT / "tests" / "adversarial"
FILES = sorted(CORPUS.glob("*.json"))
VECTORS = [(path.name, vector) for path in FILES for vector in json.loads(path.read_text())]
OUTCOMES = {"sms", "sms_count", "status", "http"}


def test_every_class_of_odd_input_is_in_the_corpus() -> None:
    classes = Counter(vector["class"] for _, vector in VECTORS)
    assert set(classes) >= {
        "money",
        "names",
        "references",
        "phones",
        "duplicates",
        "stream",
        "outbox",
        "webhooks",
    }
    assert classes["money"] >= 30 and classes["names"] >= 12


@pytest.mark.parametrize(("file", "vector"), VECTORS, ids=[f"{f}:{v['name']}" for f, v in VECTORS])
def test_every_vector_says_what_must_happen(file: str, vector: dict[str, Any]) -> None:
    assert set(vector) == {"class", "name", "input", "expect"}
    assert OUTCOMES & set(vector["expect"]), "a vector must expect an SMS, a recorded status or an answer"
    if "status" in vector["expect"]:
        assert vector["expect"]["status"] in ("REJECTED", "UNDELIVERABLE") and vector["expect"]["reason"]
