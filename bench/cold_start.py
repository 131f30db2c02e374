"""Every function's cold initialisation (import and construction) and peak memory, in fresh processes,
next to a plain Powertools function measured the same way in the same run.

    .venv/bin/python bench/cold_start.py [--runs 7]

Each run of each function is a new interpreter that imports the function's `app.py` with the
environment the template gives it (against a moto server on loopback, as `tuma local up` does) and
reports the time the import took and the process's peak RSS. The baseline (`bench/baseline_function.py`)
is what a function built from Powertools' examples carries: Logger, Tracer, Metrics, BatchProcessor,
boto3 SQS and DynamoDB clients and an httpx client. Prints medians and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Run in the fresh interpreter: the function's directory first on the path, as Lambda puts /var/task.
# Peak RSS from VmHWM: getrusage's ru_maxrss survives exec, so it would report this benchmark's own size.
PROBE = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
started = time.perf_counter()
import {module}
took = time.perf_counter() - started
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({{"ms": took * 1000, "rss_mb": peak / 1024}}))
"""


def measure(directory: Path, module: str, env: dict[str, str], runs: int) -> tuple[float, float, float]:
    """Median init ms, median and worst peak RSS (MB) over `runs` fresh processes."""
    times, memory = [], []
    for _ in range(runs):
        answer = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module), str(directory)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if answer.returncode != 0:
            raise RuntimeError(f"{directory.name} failed to initialise:\n{answer.stderr[-2000:]}")
        figures = json.loads(answer.stdout.strip().splitlines()[-1])
        times.append(figures["ms"])
        memory.append(figures["rss_mb"])
    return statistics.median(times), statistics.median(memory), max(memory)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    from moto.server import ThreadedMotoServer

    from tuma_cli.local.provision import provision

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        topology = provision(
            ROOT,
            endpoint,
            # Every function, the optional ones included.
            overrides={"ProviderBaseUrl": "http://127.0.0.1:9", "StatusCallbackUrl": "http://127.0.0.1:9/s"},
        )
        common = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "PYTHONDONTWRITEBYTECODE": "",
        }
        # The Lambda runtime's own variables; Powertools reads some of them at import.
        lambda_env = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13"}
        # Once, so that every measured run finds its bytecode compiled, as a deployed package has it.
        measure(ROOT / "bench", "baseline_function", common | lambda_env, 1)
        baseline = measure(ROOT / "bench", "baseline_function", common | lambda_env, args.runs)
        rows = []
        for name, spec in sorted(topology.functions.items()):
            env = common | lambda_env | dict(spec.environment) | {"AWS_LAMBDA_FUNCTION_NAME": spec.logical_id}
            measure(spec.directory, "app", env, 1)
            rows.append((name, measure(spec.directory, "app", env, args.runs)))
        floor = measure(ROOT / "bench", "json", common, args.runs)
    finally:
        moto.stop()

    print(f"\ncold initialisation, median of {args.runs} fresh processes (python {sys.version.split()[0]}):")
    print(f"  {'function':<22} {'init ms':>8} {'x baseline':>10} {'RSS MB':>8} {'worst':>6}")
    base_ms = baseline[0]
    print(f"  {'plain Powertools':<22} {base_ms:8.0f} {1:10.2f} {baseline[1]:8.1f} {baseline[2]:6.1f}")
    for name, (ms, rss, worst) in rows:
        print(f"  {name:<22} {ms:8.0f} {ms / base_ms:10.2f} {rss:8.1f} {worst:6.1f}")
    print(f"  {'(bare interpreter)':<22} {floor[0]:8.0f} {'':>10} {floor[1]:8.1f} {floor[2]:6.1f}")
    slowest = max(ms / base_ms for _, (ms, _, _) in rows)
    largest = max(worst for _, (_, _, worst) in rows)
    print(f"\nworst function: {slowest:.2f}x the baseline's time, {largest:.1f} MB peak (goal 0.70x, 60 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
