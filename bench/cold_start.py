"""Every function's cold initialisation (import and construction) and peak memory, in fresh processes,
next to a plain Powertools function measured the same way in the same run.

    .venv/bin/python bench/cold_start.py [--runs 7]

Each run of each function is a new interpreter that imports the function's `app.py` with the
environment the template gives it (against a moto server on loopback, as `tuma local up` does) and
reports the time the import took and the process's peak RSS. The baseline (`bench/baseline_function.py`)
is what a function built from Powertools' examples carries: Logger, Tracer, Metrics, BatchProcessor,
boto3 SQS and DynamoDB clients and an httpx client. Prints medians and ratios; asserts nothing.

The ratio is the median, over rounds, of each round's function time divided by the same round's
baseline time: every round runs the baseline and each function one after the other, so a slow
minute of this VM (its speed drifts by tens of percent) weighs on both sides of a ratio alike.
Still, separate runs move a wall-clock ratio by a few hundredths; the ratio of CPU time (user and
system, which a neighbour's load on the host does not lengthen) is printed beside it as a check.

    .venv/bin/python bench/cold_start.py --instructions

counts instead the instructions each import executes (valgrind's cachegrind, one fresh process per
target, the interpreter's exit left out): the same every run to a few tenths of a percent, so it
says whether a change made a cold start cheaper when the wall clock's drift hides it. It counts
user-space instructions only, not system calls or cache misses: a check on the time, not the time.
Needs valgrind (`make bench` installs it with apt).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Run in the fresh interpreter: the function's directory first on the path, as Lambda puts /var/task.
# Peak RSS from VmHWM: getrusage's ru_maxrss survives exec, so it would report this benchmark's own size.
PROBE = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
started, cpu = time.perf_counter(), time.process_time()
import {module}
took, cpu_took = time.perf_counter() - started, time.process_time() - cpu
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({{"ms": took * 1000, "cpu_ms": cpu_took * 1000, "rss_mb": peak / 1024}}))
"""


def fresh_process(code: str, args: list[str], env: dict[str, str]) -> Any:
    """What a new interpreter running `code` printed last, as JSON."""
    answer = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if answer.returncode != 0:
        raise RuntimeError(f"{args[0]} failed to initialise:\n{answer.stderr[-2000:]}")
    return json.loads(answer.stdout.strip().splitlines()[-1])


def once(directory: Path, module: str, env: dict[str, str]) -> tuple[float, float, float]:
    """Init ms, init CPU ms and peak RSS (MB) of one fresh process."""
    figures = fresh_process(PROBE.format(module=module), [str(directory)], env)
    return float(figures["ms"]), float(figures["cpu_ms"]), float(figures["rss_mb"])


def measure_all(
    targets: dict[str, tuple[Path, str, dict[str, str]]], runs: int, baseline: str
) -> dict[str, tuple[float, float, float, float, float]]:
    """Per target: median init ms, median of per-round ratios to `baseline` (wall clock, then CPU
    time), median and worst peak RSS. Round-robin, so that the machine's drift weighs on every
    target of a round alike."""
    for directory, module, env in targets.values():
        once(directory, module, env)  # bytecode compiled, as a deployed package has it
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in targets}
    for _ in range(runs):
        for name, (directory, module, env) in targets.items():
            samples[name].append(once(directory, module, env))
    base = samples[baseline]
    return {
        name: (
            statistics.median(ms for ms, _, _ in got),
            statistics.median(ms / b[0] for (ms, _, _), b in zip(got, base, strict=True)),
            statistics.median(cpu / b[1] for (_, cpu, _), b in zip(got, base, strict=True)),
            statistics.median(mb for _, _, mb in got),
            max(mb for _, _, mb in got),
        )
        for name, got in samples.items()
    }


@contextmanager
def local_functions() -> Iterator[tuple[dict[str, str], dict[str, tuple[Path, dict[str, str]]]]]:
    """A moto server on loopback with the template's resources; yields the environment every process
    gets (the Lambda runtime's variables included) and each function's directory and environment."""
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
            # The Lambda runtime's own variables; Powertools reads some of them at import.
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        }
        yield (
            common,
            {
                name: (
                    spec.directory,
                    common | dict(spec.environment) | {"AWS_LAMBDA_FUNCTION_NAME": spec.logical_id},
                )
                for name, spec in sorted(topology.functions.items())
            },
        )
    finally:
        moto.stop()


# The probe without its clock, leaving before the interpreter's teardown (which the time leaves out too).
COUNTED = "import os, sys\nsys.path.insert(0, sys.argv[1])\nimport {module}\nos._exit(0)\n"
# The same, then one request: what a container does before its first answer.
ANSWERED = """import json, os, sys, types
sys.path.insert(0, sys.argv[1])
import app
context = types.SimpleNamespace(function_name="Webhooks", memory_limit_in_mb=512, aws_request_id="r",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:Webhooks")
answer = app.lambda_handler(json.loads(sys.argv[2]), context)
if answer["statusCode"] != 200:
    raise SystemExit(str(answer))
os._exit(0)
"""


def instructions(directory: Path, module: str, env: dict[str, str], *request: str) -> int:
    """User-space instructions a fresh process executes importing `module` (and answering `request`,
    an API Gateway event, when one is given), by valgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit(
            "--instructions needs valgrind: sh scripts/apt_install.sh valgrind (make bench does)"
        )
    fresh_process(PROBE.format(module=module), [str(directory)], env)  # bytecode compiled first
    code = ANSWERED if request else COUNTED.format(module=module)
    command = ["--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", sys.executable]
    answer = subprocess.run(
        [valgrind, *command, "-c", code, str(directory), *request],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", answer.stderr)
    if answer.returncode != 0 or found is None:
        raise RuntimeError(f"{module} could not be counted:\n{answer.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def first_callback(endpoint: str, env: dict[str, str]) -> str:
    """A C2B confirmation as API Gateway hands it to the webhooks function: from Safaricom's address,
    with Daraja's path token, a receipt number of its own."""
    import uuid

    from tuma_cli.local.events import rest_proxy_event
    from tuma_cli.local.provision import client

    secret = client("secretsmanager", endpoint).get_secret_value(SecretId=env["DARAJA_CALLBACK_SECRET"])
    token = json.loads(secret["SecretString"])["token"]
    body = {
        "TransactionType": "Pay Bill",
        "TransID": "B" + uuid.uuid4().hex[:9].upper(),
        "TransTime": "20261207101010",
        "TransAmount": "100.00",
        "BusinessShortCode": "600638",
        "BillRefNumber": "bench",
        "MSISDN": "254708374149",
        "FirstName": "Bench",
    }
    path = f"/payments/c2b/confirmation/{token}"
    event = rest_proxy_event(
        "POST",
        path,
        resource="/payments/c2b/confirmation/{token}",
        path_parameters={"token": token},
        headers={"Content-Type": "application/json"},
        body=json.dumps(body).encode(),
        source_ip="196.201.214.200",  # one of Safaricom's (SafaricomCallbackIps)
    )
    return json.dumps(event)


def count_all(targets: dict[str, tuple[Path, str, dict[str, str]]], baseline: str, endpoint: str) -> int:
    counts = {name: instructions(*target) for name, target in targets.items()}
    base = counts.pop(baseline)
    floor = counts.pop("(bare interpreter)")
    print(f"\ninstructions executed by each cold initialisation (valgrind, python {sys.version.split()[0]}):")
    print(f"  {'function':<22} {'millions':>9} {'x baseline':>10}")
    print(f"  {'plain Powertools':<22} {base / 1e6:9.0f} {1:10.3f}")
    for name, counted in sorted(counts.items()):
        print(f"  {name:<22} {counted / 1e6:9.0f} {counted / base:10.3f}")
    print(f"  {'(bare interpreter)':<22} {floor / 1e6:9.0f}")
    print(f"\nworst function: {max(counts.values()) / base:.3f}x the baseline's instructions (goal 0.70x)")
    if "webhooks" in targets:
        # What init leaves to the first request shows here: a receipt's callback in a new container.
        path, _, env = targets["webhooks"]
        answered = instructions(path, "app", env, first_callback(endpoint, env))
        print(f"webhooks, init and its first C2B confirmation: {answered / 1e6:.0f} million")
    return 0


def profile(directory: Path, env: dict[str, str]) -> int:
    """The function's slowest imports (python -X importtime), slowest first."""
    answer = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PROBE.format(module="app"), str(directory)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line for line in answer.stderr.splitlines() if line.startswith("import time:")][1:]
    print("\n".join(sorted(lines, key=lambda line: -int(line.split("|")[1]))[:40]))
    print(answer.stdout)
    return 0


def print_times(figures: dict[str, tuple[float, float, float, float, float]], runs: int) -> int:
    baseline, floor = figures.pop("plain Powertools"), figures.pop("(bare interpreter)")
    rows = sorted(figures.items())
    print(f"\ncold initialisation, median of {runs} fresh processes (python {sys.version.split()[0]}):")
    print(f"  {'function':<22} {'init ms':>8} {'x baseline':>10} {'x (CPU)':>8} {'RSS MB':>8} {'worst':>6}")
    print(
        f"  {'plain Powertools':<22} {baseline[0]:8.0f} {1:10.2f} {1:8.2f} {baseline[3]:8.1f} {baseline[4]:6.1f}"
    )
    for name, (ms, ratio, cpu_ratio, rss, worst) in rows:
        print(f"  {name:<22} {ms:8.0f} {ratio:10.2f} {cpu_ratio:8.2f} {rss:8.1f} {worst:6.1f}")
    print(f"  {'(bare interpreter)':<22} {floor[0]:8.0f} {'':>10} {'':>8} {floor[3]:8.1f} {floor[4]:6.1f}")
    slowest = max(ratio for _, (_, ratio, _, _, _) in rows)
    slowest_cpu = max(cpu_ratio for _, (_, _, cpu_ratio, _, _) in rows)
    largest = max(worst for _, (_, _, _, _, worst) in rows)
    print(
        f"\nworst function: {slowest:.2f}x the baseline's time ({slowest_cpu:.2f}x its CPU time), "
        f"{largest:.1f} MB peak (goal 0.70x, 60 MB)"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--profile", metavar="FUNCTION", help="print FUNCTION's slowest imports instead")
    parser.add_argument("--only", metavar="FUNCTION", action="append", help="measure only these (repeatable)")
    parser.add_argument("--instructions", action="store_true", help="count instructions instead (valgrind)")
    args = parser.parse_args()

    with local_functions() as (common, functions):
        if args.profile:
            return profile(*functions[args.profile])
        targets = {"plain Powertools": (ROOT / "bench", "baseline_function", common)}
        for name, (directory, env) in functions.items():
            if not args.only or name in args.only:
                targets[name] = (directory, "app", env)
        targets["(bare interpreter)"] = (ROOT / "bench", "json", common)
        if args.instructions:
            return count_all(targets, baseline="plain Powertools", endpoint=common["AWS_ENDPOINT_URL"])
        figures = measure_all(targets, args.runs, baseline="plain Powertools")
    return print_times(figures, args.runs)


if __name__ == "__main__":
    sys.exit(main())
