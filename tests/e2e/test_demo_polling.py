"""`tuma local demo` with the provider's callbacks off: every message still reaches its final status,
learnt by polling (getdlr)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def test_the_demo_settles_every_message_by_polling_when_no_callback_comes() -> None:
    command = [
        sys.executable,
        "-m",
        "tuma_cli.main",
        "local",
        "demo",
        "--no-delivery-callbacks",
        "--timeout",
        "90",
    ]
    demo = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    rows = [line for line in demo.stdout.splitlines() if " DELIVERED " in line or " FAILED " in line]
    assert len(rows) == 10 and all("  polling  " in row for row in rows)
    assert "every message settled, delivery reports included" in demo.stdout
