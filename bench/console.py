"""How fast the operator's console answers on a big ledger: a search by receipt number, by phone
number, the day's list and a message's page, over HTTP, against moto in a process of its own.

    .venv/bin/python bench/console.py [--messages 100000]

Seeds the ledger with N messages over the last day, then times each page (median and worst of a few
requests). The baseline, in the same run, is the DynamoDB queries each page makes, sent straight to
moto: moto answers every Query by walking the whole table (real DynamoDB reads only the key's items),
so on moto the queries are most of a page's time and grow with the ledger; what the console adds is
the difference. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _timed(call: Callable[[], object], runs: int = 5) -> tuple[float, float]:
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        took.append(time.perf_counter() - started)
    return statistics.median(took) * 1000, max(took) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()

    import httpx
    import uvicorn
    from tuma.adapters.dynamodb_ledger_views import LedgerViews
    from tuma.formatting.clock import EAT
    from tuma.models.ledger import LedgerEntry, Status

    from tuma_cli.console.app import create_app
    from tuma_cli.console.backend import Backend
    from tuma_cli.local.provision import client, provision
    from tuma_cli.stack import Stack

    moto_port, console_port = _port(), _port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{moto_port}"
    for _ in range(100):
        try:
            httpx.get(endpoint + "/moto-api/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        topology = provision(ROOT, endpoint)
        table = topology.ref("LedgerTable")
        ledger = LedgerViews(client("dynamodb", endpoint), table)
        now = datetime.now(UTC)
        print(f"seeding {args.messages:,} messages ...", flush=True)
        started = time.perf_counter()

        def seed(start: int) -> None:
            entries = []
            for n in range(start, min(start + 500, args.messages)):
                number = f"2547{n % 100_000_000:08d}"
                entries.append(
                    LedgerEntry(
                        idempotency_key=f"BEN{n:07d}",
                        recipient_ref="n:" + hashlib.sha256(number.encode()).hexdigest()[:24],
                        recipient=number[:4] + "*****" + number[-3:],
                        status=Status.DELIVERED if n % 10 else Status.FAILED,
                        source="c2b",
                        parts=1,
                        provider_message_id=str(9_000_000 + n),
                        text=f"BEN{n:07d} confirmed. We have received KES 100.00. Thank you.",
                        updated_at=now - timedelta(seconds=(n * 86_000) // args.messages),
                        final_via="callback",
                    )
                )
            ledger.write(entries)

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(seed, range(0, args.messages, 500)))
        print(f"seeded in {time.perf_counter() - started:.0f} s")

        stack = Stack(
            {"ledger": table, "templates": topology.ref("TemplatesTable")},
            endpoint,
            ready={
                "queues": {
                    "OutboxQueue": topology.resources["OutboxQueue"]["QueueUrl"],
                    "OutboxDeadLetterQueue": topology.resources["OutboxDeadLetterQueue"]["QueueUrl"],
                }
            },
        )
        app = create_app(Backend(stack), console_port, "bench")
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=console_port, log_level="warning", access_log=False)
        )
        threading.Thread(target=server.run, daemon=True).start()
        time.sleep(1.5)
        web = httpx.Client(base_url=f"http://127.0.0.1:{console_port}", timeout=600)
        first = web.get("/")
        token = first.cookies["tuma_csrf"]
        known = args.messages // 2
        phone = "0" + f"2547{known:08d}"[3:]  # the known message's number, as a customer would say it

        dynamo = client("dynamodb", endpoint)
        key = f"BEN{known:07d}"
        day = datetime.now(UTC).astimezone(EAT).date().isoformat()
        results = {
            "baseline: Query by key": _timed(
                lambda: dynamo.query(
                    TableName=table,
                    KeyConditionExpression="idempotency_key = :k",
                    ExpressionAttributeValues={":k": {"S": key}},
                )
            ),
            "baseline: Query a day, 50": _timed(
                lambda: dynamo.query(
                    TableName=table,
                    IndexName="by-day",
                    KeyConditionExpression="#d = :d",
                    ExpressionAttributeNames={"#d": "day"},
                    ExpressionAttributeValues={":d": {"S": day}},
                    ScanIndexForward=False,
                    Limit=50,
                )
            ),
            "search by receipt number": _timed(
                lambda: web.post(
                    "/search", data={"csrf": token, "q": f"ben{known:07d}"}, follow_redirects=False
                )
            ),
            "search by phone number": _timed(lambda: web.post("/search", data={"csrf": token, "q": phone})),
            "list: the day's newest 50": _timed(lambda: web.get("/")),
            "list: failures only": _timed(lambda: web.get("/?status=FAILED")),
            "message page": _timed(lambda: web.get(f"/messages/BEN{known:07d}")),
        }
        print(f"\nconsole on a ledger of {args.messages:,} messages (median / worst of 5, ms):")
        for name, (median, worst) in results.items():
            print(f"  {name:<28} {median:9.1f} / {worst:9.1f}")
        # Queries per page: search by receipt 2 (as typed, then upper-cased) + the page it leads to 1;
        # by phone 1 (by-recipient index); a list 1 (by-day); a message page 1.
        query, listing = results["baseline: Query by key"][0], results["baseline: Query a day, 50"][0]
        print("\nwhat the console adds to moto's queries (median, ms):")
        print(f"  message page                 {results['message page'][0] - query:9.1f}")
        print(
            f"  list: the day's newest 50    {results['list: the day' + chr(39) + 's newest 50'][0] - listing:9.1f}"
        )
        server.should_exit = True
    finally:
        moto.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
