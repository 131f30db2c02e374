"""The contract: Schemathesis, fed only docs/openapi.json, against `tuma local up`, every check on
every operation, signing where the document's security scheme says. The checks configured off, each
for named operations with its reason, are in tests/e2e/schemathesis.toml. The summary is printed
(run with -s)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import running_local

pytestmark = pytest.mark.e2e
CONFIG = Path(__file__).with_name("schemathesis.toml")


def test_the_published_document_holds_against_the_running_api(tmp_path: Path) -> None:
    # Schemathesis calls from 127.0.0.1: Daraja's routes are opened to it (as for Daraja's sandbox),
    # so that their bodies are exercised rather than refused at the address (tests/e2e/test_forgery.py).
    with running_local("SafaricomCallbackIps=open") as local:
        config = tmp_path / "schemathesis.toml"
        # base-url and the path token are the topology's own (a table last: TOML keys after a table
        # header belong to it). The stack's first token is accepted for both callers until rotated.
        config.write_text(
            f'base-url = "{local.ready["webhook_base_url"]}"\n'
            + CONFIG.read_text()
            + f'\n[parameters]\n"path.token" = "{local.ready["webhook_token"]}"\n'
        )
        env = {
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
            "TUMA_API_KEY_ID": local.ready["api_key"]["id"],
            "TUMA_API_KEY_SECRET": local.ready["api_key"]["secret"],
            "TUMA_BASE_URL": local.ready["webhook_base_url"],
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "NO_COLOR": "1",
        }
        st = Path(sys.executable).with_name("st")
        run = subprocess.run(
            [str(st), "--config-file", str(config), "run", str(ROOT / "docs" / "openapi.json")],
            cwd=tmp_path,  # its cache and reports stay out of the repository
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    summary = run.stdout[run.stdout.find("SUMMARY") :]
    print("\n" + summary)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert re.search(r"Selected: 14/14\s+Tested: 14", summary), summary
    assert "Failures:" not in summary and "Errors:" not in summary, summary
    assert "Seed: 20261202" in summary, summary
