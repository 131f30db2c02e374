from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHARED_FIXTURES, shared_fixture_paths

UPSTREAM = ROOT.parent / "shared" / "fixtures"


def _digests(folder: Path) -> dict[str, str]:
    # The payload folders only: the upstream README describes the upstream collection, ours is
    # tests/fixtures/README.md.
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for sub in ("mpesa", "provider")
        for p in sorted((folder / sub).rglob("*"))
        if p.is_file()
    }


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason="../shared/fixtures is not beside this checkout")
def test_vendored_fixtures_are_byte_identical_to_the_shared_ones() -> None:
    assert _digests(SHARED_FIXTURES) == _digests(UPSTREAM)


def test_vendored_fixtures_are_present() -> None:
    assert len(shared_fixture_paths("provider")) >= 15
    assert len(shared_fixture_paths("mpesa")) >= 13


def test_every_shared_fixture_is_read_by_some_test() -> None:
    # A payload added to ../shared/fixtures must get an asserted outcome, not sit unread.
    this_file = Path(__file__).resolve()
    sources = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py") if p.resolve() != this_file)
    unread = [
        f"{folder}/{p.name}"
        for folder in ("mpesa", "provider")
        for p in shared_fixture_paths(folder)
        if p.name not in sources
    ]
    assert unread == []
