"""Generate (or check) layers/tuma/requirements.txt from pyproject.toml's runtime dependencies.

The layer carries every runtime dependency except those something else puts beside it: boto3 and
botocore's urllib3, which the Lambda runtime provides, and Powertools, which comes from AWS's public
Powertools layer (template.yaml attaches it before ours). Their pins here are for development and
tests.
`--check` exits 1 when the file is out of date.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER_REQUIREMENTS = ROOT / "layers" / "tuma" / "requirements.txt"
PROVIDED_ALONGSIDE = {"boto3", "botocore", "urllib3", "aws-lambda-powertools"}
HEADER = "# Generated from pyproject.toml by scripts/layer_requirements.py: do not edit by hand.\n"


def _name(requirement: str) -> str:
    return re.split(r"[\[=<>!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def expected() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = []
    for requirement in project["dependencies"]:
        if "==" not in requirement:
            raise SystemExit(f"runtime dependency not pinned exactly: {requirement}")
        if _name(requirement) not in PROVIDED_ALONGSIDE:
            lines.append(requirement)
    return HEADER + "\n".join(sorted(lines, key=_name)) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    want = expected()
    if args.check:
        have = LAYER_REQUIREMENTS.read_text() if LAYER_REQUIREMENTS.exists() else ""
        if have != want:
            print(
                f"{LAYER_REQUIREMENTS.relative_to(ROOT)} is out of date: run python scripts/layer_requirements.py"
            )
            return 1
        return 0
    LAYER_REQUIREMENTS.write_text(want)
    print(f"wrote {LAYER_REQUIREMENTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
