"""Shared test helpers: the fixtures written by others, and the repository layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
# A verbatim copy of ../shared/fixtures/{mpesa,provider} (tests/unit/test_fixture_copy.py keeps it
# identical), so a clean clone tests without the shared folder beside it.
SHARED_FIXTURES = ROOT / "tests" / "fixtures" / "shared"


def shared_fixture(relative: str) -> Any:
    return json.loads((SHARED_FIXTURES / relative).read_text())


def shared_fixture_paths(folder: str) -> list[Path]:
    return sorted((SHARED_FIXTURES / folder).glob("*.json"))


# The key numbers are named by (tuma.security.number_keys) in tests that build recipients without a
# stack; a test whose code reads a stack's privacy secret (wiring, the CLI) installs that stack's.
TEST_PRIVACY_KEY = b"tests-privacy-key-0123456789abcdef"


def _test_keys() -> None:
    from tuma.security.number_keys import NumberKeys, use

    use(NumberKeys(lambda: TEST_PRIVACY_KEY))


_test_keys()  # for what a test module computes as it is collected


@pytest.fixture(autouse=True)
def _number_keys() -> None:
    _test_keys()
