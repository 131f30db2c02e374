"""What the RFC 9421 check and its replay write cost `POST /payments`, in one run.

Runs the real webhooks function in process against a moto server provisioned from template.yaml:
    .venv/bin/python bench/signed_requests.py [--requests 300]

The same signed payments (each a new reference and nonce) are answered by the function as deployed
(verify the signature, then the conditional PutItem that remembers its nonce) and, alternately, by
the same function with the replay write replaced by nothing (the baseline: what the answer costs
without it). Also: the import cost of the verifier against the http-message-signatures library,
each in a fresh interpreter. Prints figures; asserts nothing. Wall-clock numbers depend on the
machine (and moto is slower than DynamoDB: the write's share here is an upper bound).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class _NoReplayCheck:
    """The baseline: every nonce is new (no write)."""

    def first_use(self, name: str, keep_until: int) -> bool:
        return True


# What the webhooks function imports anyway before the verifier: the routes and pydantic.
ALREADY = "import tuma.runtime.routes, tuma.models.api_keys"


def _import_ms(module: str, rounds: int = 7) -> float:
    """Median milliseconds importing `module` takes (python -X importtime, cumulative: what it and
    what it brings cost) in a fresh interpreter that has imported what the webhooks function has."""
    import re

    def run() -> float:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"{ALREADY}, {module}"],
            check=True,
            cwd=ROOT,
            env=os.environ | {"PYTHONPATH": "layers/tuma"},
            capture_output=True,
            text=True,
        )
        line = next(x for x in done.stderr.splitlines() if re.search(rf"\|\s*{re.escape(module)}$", x))
        return int(line.split("|")[1]) / 1000

    return statistics.median(run() for _ in range(rounds))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    from bench.in_process import start
    from tuma_cli.api_signing import ApiKeyCredentials, signature_headers
    from tuma_cli.local.context import LocalContext
    from tuma_cli.local.events import rest_proxy_event
    from tuma_cli.local.seeding import seed_api_key

    running = start()
    made = seed_api_key(running.topology, running.endpoint)
    key = ApiKeyCredentials(made["id"], made["secret"])
    handler = running.handler("webhooks")
    module = sys.modules[handler.__module__]
    gate = module.gate
    deployed = gate._replay

    def request(n: int) -> dict[str, Any]:
        body = json.dumps({"reference": f"BENCH{n:06d}", "amount": "150", "phone": "0712345678"}).encode()
        headers = signature_headers(key, "POST", "https://api.example/v1/payments", body)
        return rest_proxy_event(
            "POST",
            "/payments",
            resource="/payments",
            headers=headers | {"Content-Type": "application/json"},
            body=body,
        )

    timings: dict[str, list[float]] = {"with the replay write": [], "baseline (no replay write)": []}
    context = LocalContext("webhooks", 15)
    with contextlib.redirect_stdout(io.StringIO()):
        handler(request(0), context)  # warm: the key set read, the clients made
    for n in range(1, args.requests + 1):
        with_write = n % 2 == 0  # alternated, so that drift falls on both
        gate._replay = deployed if with_write else _NoReplayCheck()
        event = request(n)
        with contextlib.redirect_stdout(io.StringIO()):  # the metrics' EMF lines
            started = time.perf_counter()
            answer = handler(event, context)
            elapsed = time.perf_counter() - started
        assert answer["statusCode"] == 202, answer
        timings["with the replay write" if with_write else "baseline (no replay write)"].append(elapsed)
    running.stop()

    print(f"POST /payments through the webhooks function, {args.requests} signed requests, alternated:")
    for name, values in timings.items():
        values.sort()
        print(
            f"  {name:<28} p50 {statistics.median(values) * 1000:6.2f} ms   "
            f"p90 {values[int(len(values) * 0.9)] * 1000:6.2f} ms"
        )
    base, full = (
        statistics.median(v)
        for v in (timings["baseline (no replay write)"], timings["with the replay write"])
    )
    print(f"  the replay write adds {(full - base) * 1000:.2f} ms at the p50 ({full / base:.2f}x)")
    print("What importing the verifier adds to a cold start (fresh interpreters, median of 7):")
    ours = _import_ms("tuma.security.message_signatures")
    library = _import_ms("http_message_signatures")
    print(f"  tuma.security.message_signatures  {ours:6.1f} ms")
    print(f"  http_message_signatures (library) {library:6.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
