from __future__ import annotations

import subprocess
import sys
import tomllib

from tests.conftest import ROOT


def _check(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )


def test_layer_requirements_are_generated_from_pyproject() -> None:
    result = _check("layer_requirements.py")
    assert result.returncode == 0, result.stdout


def test_every_dependency_is_pinned_exactly() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += [r for r in extra if not r.startswith("tuma[")]
    loose = [r for r in requirements if "==" not in r]
    assert loose == []


def test_layer_requirements_leave_out_what_the_runtime_and_the_powertools_layer_provide() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "layers" / "tuma" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    names = {line.split("==")[0].split("[")[0] for line in lines}
    assert names == {"certifi", "jinja2", "phonenumberslite", "pydantic"}


def test_events_are_generated_from_the_sam_samples() -> None:
    result = _check("make_events.py")
    assert result.returncode == 0, result.stdout
