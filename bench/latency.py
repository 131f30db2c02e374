"""How long a payment waits for its receipt, and what a bulk send costs in provider calls.

Starts the whole local topology (`tuma local up`, as `make demo` does) and drives it from outside:
    .venv/bin/python bench/latency.py [--receipts 40] [--bulk 1000]

1. Receipts: Daraja C2B confirmations posted one at a time; latency is from just before the POST
   to the simulator accepting the SMS (`accepted_at` in `/_sandbox/outbox`). They take the fast lane.
2. Baseline, same run: as many messages put straight on the bulk OutboxQueue, the only way a
   receipt went before the fast lane: latency from SendMessage to acceptance, through the bulk
   lane's batching window.
3. Bulk: N outbox messages queued at once; provider calls counted by the simulator.
4. With `--checks`: what the checks a Daraja callback meets cost its receipt (Safaricom's addresses,
   Daraja's own token, the business's short codes): the same receipts through a topology with them
   off (`SafaricomCallbackIps=open`, no `BusinessShortCodes`) and through one with them on, one
   after the other in the same run, the order alternated; and the gate's own cost per callback,
   in process. Two fresh topologies with the same settings differ by up to a fifth at the p50 (an
   A/A run here: 0.135 s and 0.162 s), so the gate's figure is the one that says what the checks cost.
Prints figures; asserts nothing. Wall-clock numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import shared_fixture  # noqa: E402
from tests.e2e.conftest import Local, running_local  # noqa: E402

SHORT_CODE = "600638"  # the business's own, when the short-code check is on
CHECKS_OFF = ("SafaricomCallbackIps=open", "BusinessShortCodes=")
CHECKS_ON = (f"BusinessShortCodes={SHORT_CODE}",)  # and the default: only Daraja's address


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _accepted(local: Local) -> dict[str, float]:
    """Each accepted message's text mapped to when the simulator accepted it."""
    return {sms["message"]: sms["accepted_at"] for sms in local.phones()}


def _wait_for(local: Local, markers: list[str], timeout: float = 120) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    found: dict[str, float] = {}
    while time.monotonic() < deadline and len(found) < len(markers):
        accepted = _accepted(local)
        for marker in markers:
            for text, at in accepted.items():
                if marker in text:
                    found[marker] = at
                    break
        time.sleep(0.05)
    missing = [m for m in markers if m not in found]
    if missing:
        raise SystemExit(f"{len(missing)} messages never reached the simulator, e.g. {missing[:3]}")
    return found


def receipts(local: Local, count: int, prefix: str) -> list[float]:
    template = shared_fixture("mpesa/c2b_confirmation_request_legacy_docs.json")
    started: dict[str, float] = {}
    for n in range(count):
        receipt = f"{prefix}{n:04d}"
        started[receipt] = time.time()
        # Each from its own customer: one number paying forty times an hour would meet the
        # per-number limit (30 receipts an hour), which is not what this measures.
        payer = {"TransID": receipt, "MSISDN": f"2547{11_000_000 + n:08d}", "BusinessShortCode": SHORT_CODE}
        answer = local.post("/payments/c2b/confirmation/{token}", template | payer)
        answer.raise_for_status()
        time.sleep(0.25)  # payments arrive one by one, not as a burst
    accepted = _wait_for(local, list(started))
    return [accepted[r] - started[r] for r in started]


def bulk_lane(local: Local, count: int, prefix: str) -> list[float]:
    sqs = local.aws("sqs")
    started: dict[str, float] = {}
    for n in range(count):
        marker = f"{prefix}{n:04d}"
        started[marker] = time.time()
        body = {"idempotency_key": marker, "to": [f"07{12_000_000 + n:08d}"], "text": f"Notice {marker}"}
        sqs.send_message(QueueUrl=local.ready["queues"]["OutboxQueue"], MessageBody=json.dumps(body))
        time.sleep(0.25)
    accepted = _wait_for(local, list(started))
    return [accepted[m] - started[m] for m in started]


def bulk_calls(local: Local, count: int) -> dict[str, Any]:
    sqs = local.aws("sqs")
    before = local.simulator("/_sandbox/stats")["requests"]
    # The simulator refuses numbers ending 401-410 (its invalid-number fixtures): skip them.
    phones = [f"07{n:08d}" for n in range(30_000_000, 30_000_000 + 2 * count) if not 401 <= n % 1000 <= 410][
        :count
    ]
    started = time.time()
    for start in range(0, count, 10):
        sqs.send_message_batch(
            QueueUrl=local.ready["queues"]["OutboxQueue"],
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": json.dumps(
                        {"idempotency_key": f"bulk-{i}", "to": [phones[i]], "text": f"Term dates bulk-{i}."}
                    ),
                }
                for i in range(start, min(start + 10, count))
            ],
        )
    markers = [f"bulk-{i}." for i in range(count)]
    accepted = _wait_for(local, markers, timeout=300)
    after = local.simulator("/_sandbox/stats")["requests"]
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
    return {"calls": calls, "seconds": max(accepted.values()) - started}


def _line(name: str, values: list[float]) -> str:
    p50, p95 = _percentile(values, 0.5), _percentile(values, 0.95)
    return f"{name:<44} n={len(values):<4} p50 {p50:6.3f} s   p95 {p95:6.3f} s   max {max(values):6.3f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receipts", type=int, default=40)
    parser.add_argument("--bulk", type=int, default=1000)
    parser.add_argument(
        "--checks", action="store_true", help="also: receipts with the Daraja checks off, then on, in one run"
    )
    args = parser.parse_args()
    if args.checks:
        return checks(args.receipts)

    with running_local() as local:
        # Cold starts are not what this measures: one of each first.
        receipts(local, 1, "WARMUP")
        bulk_lane(local, 1, "warmup-")
        fast = receipts(local, args.receipts, "LAT")
        slow = bulk_lane(local, args.receipts, "lat-")
        bulk = bulk_calls(local, args.bulk)

    print(_line("receipt: C2B callback -> SMS (fast lane)", fast))
    print(_line("baseline: outbox queue -> SMS (bulk lane)", slow))
    ratio = statistics.median(fast) / statistics.median(slow)
    print(f"{'fast / bulk p50':<44} {ratio:.2f}x")
    calls = bulk["calls"]
    sending = sum(v for k, v in calls.items() if k in {"sendsms", "sendbulk", "sendotp"})
    print(
        f"bulk: {args.bulk} outbox messages -> {sending} provider calls "
        f"({100 * sending / args.bulk:.1f} per 100) in {bulk['seconds']:.1f} s; by endpoint {calls}"
    )
    return 0


def checks(count: int, rounds: int = 2) -> int:
    """The same receipts with the Daraja checks off and on, alternating, each in a fresh topology."""
    found: dict[str, list[float]] = {"off": [], "on": []}
    for n in range(rounds):
        for name in ("off", "on") if n % 2 == 0 else ("on", "off"):
            with running_local(*(CHECKS_OFF if name == "off" else CHECKS_ON)) as local:
                receipts(local, 1, f"WARM{name.upper()}{n}")
                found[name] += receipts(local, count, f"CHK{name.upper()}{n}")
    print(_line("receipt, checks off (address, token, short code)", found["off"]))
    print(_line("receipt, checks on", found["on"]))
    print(f"{'on / off p50':<44} {statistics.median(found['on']) / statistics.median(found['off']):.2f}x")
    for name, spec in (("open", "open"), ("Safaricom's twelve addresses", SAFARICOM_TWELVE)):
        print(f"{'gate, a Daraja callback, ' + name:<44} {gate_microseconds(spec):6.1f} us")
    return 0


SAFARICOM_TWELVE = (
    "196.201.214.200,196.201.214.206,196.201.214.207,196.201.214.208,196.201.213.114,196.201.213.44,"
    "196.201.212.127,196.201.212.129,196.201.212.136,196.201.212.138,196.201.212.69,196.201.212.74"
)


def gate_microseconds(addresses: str, rounds: int = 20_000) -> float:
    """What WebhookGate.check costs a C2B confirmation (address, token, body), in process."""
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from tuma.runtime.routes import Auth, Routes
    from tuma.runtime.webhook_gate import WebhookGate
    from tuma.security.addresses import Addresses

    from tests.unit.fakes import MemoryApiKeys, MemoryReplayGuard, StaticWebhookSecrets

    routes = Routes(APIGatewayRestResolver())
    routes.add(
        "post", "/payments/c2b/confirmation/<token>", auth=Auth.DARAJA, answers={200: ("", "DarajaAck")}
    )(lambda token: {})
    gate = WebhookGate(
        routes,
        StaticWebhookSecrets(),
        keys=MemoryApiKeys(),
        replay=MemoryReplayGuard(),
        daraja_addresses=Addresses(addresses),
    )
    event = {
        "path": "/payments/c2b/confirmation/" + "t" * 32,
        "httpMethod": "POST",
        "body": json.dumps(shared_fixture("mpesa/c2b_confirmation_request_legacy_docs.json")),
        "requestContext": {"identity": {"sourceIp": "196.201.212.74"}},
    }
    assert gate.check(event) is None
    started = time.perf_counter()
    for _ in range(rounds):
        gate.check(event)
    return (time.perf_counter() - started) / rounds * 1e6


if __name__ == "__main__":
    raise SystemExit(main())
