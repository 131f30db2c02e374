"""Where the local topology lives and where it says so: the checkout, and its READY file.

A fact of its own, so that the commands that read the READY file (tuma_cli.stack, hence the console)
and the runner that writes it (tuma_cli.local.runner, which serves the console) import neither each
other nor in a circle.
"""

from __future__ import annotations

from pathlib import Path


def project_root() -> Path:
    """The checkout holding template.yaml: the current directory or one of its parents."""
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "template.yaml").is_file() and (folder / "functions").is_dir():
            return folder
    raise SystemExit("template.yaml not found: run tuma local from the Tuma checkout")


def ready_file() -> Path:
    """Where `tuma local up` says where it is, for commands run with --local."""
    return project_root() / ".local" / "ready.json"
