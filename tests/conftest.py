"""Shared test helpers: the fixtures written by others, and the repository layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# A verbatim copy of ../shared/fixtures/{mpesa,provider} (tests/unit/test_fixture_copy.py keeps it
# identical), so a clean clone tests without the shared folder beside it.
SHARED_FIXTURES = ROOT / "tests" / "fixtures" / "shared"


def shared_fixture(relative: str) -> Any:
    return json.loads((SHARED_FIXTURES / relative).read_text())


def shared_fixture_paths(folder: str) -> list[Path]:
    return sorted((SHARED_FIXTURES / folder).glob("*.json"))
