"""`tuma --version` says what is installed: the first thing an operator reports when asking for help."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from tuma_cli.main import main


def test_the_version_is_the_installed_packages(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"tuma {version('tuma')}"


def test_the_command_runs_without_the_local_extra() -> None:
    """An operator's install (`tuma[console]`) has no httpx, moto or yaml: `tuma` must still start."""
    import subprocess
    import sys

    blocked = "; ".join(f"sys.modules[{m!r}] = None" for m in ("httpx", "moto", "yaml", "boto3"))
    code = f"import sys; {blocked}; from tuma_cli.main import main; main(['--version'])"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert run.returncode == 0 and run.stdout.startswith("tuma "), run.stderr[-2000:]


def test_the_changelog_has_a_section_for_the_version_in_pyproject() -> None:
    """Each release is a version, a CHANGELOG section with its upgrade notes, and a git tag v<version>."""
    import re
    import tomllib

    from tests.conftest import ROOT

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    released = re.findall(
        r"^## (\d+\.\d+\.\d+) \(\d{4}-\d{2}-\d{2}\)$", (ROOT / "CHANGELOG.md").read_text(), re.M
    )
    assert released and released[0] == declared, (released, declared)
