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
