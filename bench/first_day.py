"""A new engineer's first day, the steps a machine can time: from `git clone` to the answers saved for
`sam deploy`, each step as README.md says it, on a fresh clone of this repository.

    .venv/bin/python bench/first_day.py [--json] [--keep]

Runs: `git clone`, `make demo` (installs .venv, then the whole local topology and every sample),
`make build` (installs the pinned SAM CLI, `sam validate --lint`, `sam build`), and `tuma deploy
--guided --no-execute` answered as a school taking fees by paybill would answer it. The baseline,
counted in the same run: the questions `sam deploy --guided` would ask (every template parameter).
The steps in an AWS account and with Safaricom and the provider are not timed here (no account on
this machine): docs/first-day.md lists them with what each needs. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The answers of docs/first-day.md's school, in the order `tuma deploy --guided` asks.
ANSWERS = [
    "tuma-shule",
    "af-south-1",
    "https://quicksms.advantasms.com",
    "20",
    "Shule ya Amani",
    "0722000111, 0733000222",
    "bursar@example.co.ke",
    "",
    "Enabled",
    "600100",
    "pay.example.co.ke",
    "arn:aws:acm:af-south-1:123456789012:certificate/0b6f3c1e-0000-4000-8000-000000000000",
    "3",
]


def _timed(
    name: str, command: list[str], cwd: Path, stdin: str | None = None, says: str = ""
) -> dict[str, object]:
    """Run a step; `says`: what the line to show contains (else its last line)."""
    start = time.monotonic()
    done = subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, text=True, check=False)
    seconds = round(time.monotonic() - start, 1)
    last = next((line for line in reversed(done.stdout.splitlines()) if line.strip() and says in line), "")
    return {
        "step": name,
        "seconds": seconds,
        "exit": done.returncode,
        "last_line": last[:120],
        "out": done.stdout,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tuma-first-day-"))
    clone = work / "tuma"
    steps = [_timed("git clone", ["git", "clone", "-q", str(ROOT), str(clone)], work)]
    steps.append(_timed("make demo", ["make", "demo"], clone, says="outcomes from"))
    steps.append(_timed("make build", ["make", "build"], clone, says="Build Succeeded"))
    guided = _timed(
        "tuma deploy --guided --no-execute",
        [
            ".venv/bin/tuma",
            "deploy",
            "--guided",
            "--no-execute",
            "--config-file",
            str(work / "samconfig.toml"),
        ],
        clone,
        stdin="".join(f"{answer}\n" for answer in ANSWERS),
        says="deploy with",
    )
    steps.append(guided)
    asked = str(guided.pop("out")).count("]: ")
    from tuma_cli.local.template import load

    parameters = len(load(ROOT / "template.yaml")["Parameters"])
    for step in steps:
        step.pop("out", None)
    result = {
        "steps": steps,
        "seconds_in_all": round(sum(float(str(s["seconds"])) for s in steps), 1),
        "guided_questions": asked,
        "baseline_sam_deploy_guided_questions": parameters,
        "clone": str(clone) if args.keep else None,
    }
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for step in steps:
        print(f"{step['step']:<36} {step['seconds']:>7.1f} s  exit {step['exit']}  {step['last_line']}")
    print(f"{'in all':<36} {result['seconds_in_all']:>7.1f} s")
    print(f"questions: tuma deploy --guided {asked}; baseline sam deploy --guided {parameters}")
    return 0 if all(s["exit"] == 0 for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
