"""What shipping the layer as bytecode saves at each cold start.

    .venv/bin/python bench/bytecode.py [--runs 5]

Lambda puts a layer in /opt, read-only: a module without a usable .pyc is compiled at every import,
that is at every cold start. SAM's python3.13 builder ships sources only; layers/tuma/Makefile ships
bytecode (hash-based, unchecked: SAM's zips date every file 1980-01-01, so bytecode checked against
source times would be discarded, aws/aws-lambda-builders#924). This builds both forms of the
layer from what is installed here (the layer's requirements and their dependencies, and Tuma's
package), then imports each function's `app.py` in fresh processes that may not write bytecode,
alternating the two forms, with the environment the template gives it (against a moto server on
loopback). Prints medians; asserts nothing.
"""

from __future__ import annotations

import argparse
import compileall
import py_compile
import re
import shutil
import statistics
import sys
import tempfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cold_start import fresh_process, local_functions  # noqa: E402

PROBE = """
import json, sys, time
sys.path[0:0] = [sys.argv[1], sys.argv[2]]
started = time.perf_counter()
import app
took = time.perf_counter() - started
import pydantic, tuma
assert pydantic.__file__.startswith(sys.argv[2]) and tuma.__file__.startswith(sys.argv[2])
print(json.dumps(took * 1000))
"""


def _closure(names: list[str]) -> list[metadata.Distribution]:
    """The distributions named and everything they require (markers evaluated here, no extras)."""
    from packaging.requirements import Requirement

    seen: dict[str, metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = re.sub(r"[-_.]+", "-", pending.pop()).lower()
        if name in seen:
            continue
        seen[name] = dist = metadata.distribution(name)
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return list(seen.values())


def build_layer(target: Path) -> None:
    """The layer's files as sam build would ship them, sources only."""
    requirements = (ROOT / "layers" / "tuma" / "requirements.txt").read_text().splitlines()
    names = [line.split("==")[0] for line in requirements if line and not line.startswith("#")]
    for dist in _closure(names):
        for file in dist.files or []:
            parts = file.parts
            if parts[0] == ".." or "__pycache__" in parts or file.suffix == ".pyc":
                continue
            destination = target / file
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(str(dist.locate_file(file))), destination)
    shutil.copytree(
        ROOT / "layers" / "tuma" / "tuma", target / "tuma", ignore=shutil.ignore_patterns("__pycache__")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        sources, compiled = Path(scratch) / "sources", Path(scratch) / "compiled"
        build_layer(sources)
        shutil.copytree(sources, compiled)
        # The same compilation as layers/tuma/Makefile's `compileall --invalidation-mode unchecked-hash`.
        compileall.compile_dir(
            compiled, quiet=1, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
        )
        modules = sum(1 for _ in sources.rglob("*.py"))
        with local_functions() as (_, functions):
            samples: dict[str, dict[Path, list[float]]] = {
                name: {sources: [], compiled: []} for name in functions
            }
            for _ in range(args.runs):
                for name, (directory, env) in functions.items():
                    for layer in (sources, compiled):
                        took = fresh_process(
                            PROBE, [str(directory), str(layer)], env | {"PYTHONDONTWRITEBYTECODE": "1"}
                        )
                        samples[name][layer].append(float(took))

    print(f"\ncold initialisation with the layer ({modules} modules) as sources and as bytecode,")
    print(
        f"median of {args.runs} fresh processes that may not write bytecode (python {sys.version.split()[0]}):"
    )
    print(f"  {'function':<18} {'sources ms':>10} {'bytecode ms':>12} {'saved ms':>9}")
    saved = []
    for name, by_layer in samples.items():
        slow, fast = statistics.median(by_layer[sources]), statistics.median(by_layer[compiled])
        saved.append(slow - fast)
        print(f"  {name:<18} {slow:10.0f} {fast:12.0f} {slow - fast:9.0f}")
    print(
        f"\nevery cold start, every function: {min(saved):.0f}-{max(saved):.0f} ms saved by shipping bytecode"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
