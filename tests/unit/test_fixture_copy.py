from __future__ import annotations

import hashlib

import pytest

from tests.conftest import ROOT, SHARED_FIXTURES

UPSTREAM = ROOT.parent / "shared" / "fixtures"


def _digests(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason="../shared/fixtures is not beside this checkout")
def test_vendored_fixtures_are_byte_identical_to_the_shared_ones():
    assert _digests(SHARED_FIXTURES) == _digests(UPSTREAM)


def test_vendored_fixtures_are_present():
    assert len(list((SHARED_FIXTURES / "provider").glob("*.json"))) >= 15
    assert len(list((SHARED_FIXTURES / "mpesa").glob("*.json"))) >= 13
