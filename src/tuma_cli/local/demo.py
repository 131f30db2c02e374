"""`tuma local demo`: fire the samples in events/ through their real paths and report what each phone got."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import httpx
from boto3.dynamodb.types import TypeDeserializer

from tuma_cli.local.provision import client
from tuma_cli.local.runner import LocalTopology

FINAL = {"DELIVERED", "FAILED", "REJECTED", "UNDELIVERABLE"}


@dataclass
class Sample:
    event_file: str
    source: str
    keys: list[str]
    fire: Callable[[LocalTopology], None]


def _outbox_sample(topology: LocalTopology, event_file: str) -> Sample:
    event = json.loads((topology.root / "events" / event_file).read_text())
    bodies = [record["body"] for record in event["Records"]]

    def fire(running: LocalTopology) -> None:
        assert running.topology is not None
        url = running.topology.resources["OutboxQueue"]["QueueUrl"]
        sqs = client("sqs", running.endpoint)
        for body in bodies:
            sqs.send_message(QueueUrl=url, MessageBody=body)

    return Sample(event_file, "outbox queue", [json.loads(b)["idempotency_key"] for b in bodies], fire)


def samples(topology: LocalTopology) -> list[Sample]:
    files = sorted(p.name for p in (topology.root / "events").glob("outbox_*.json"))
    return [_outbox_sample(topology, name) for name in files]


def _ledger(topology: LocalTopology) -> list[dict[str, Any]]:
    assert topology.topology is not None
    deserialize = TypeDeserializer().deserialize
    items = client("dynamodb", topology.endpoint).scan(TableName=topology.topology.ref("LedgerTable"))[
        "Items"
    ]
    return [{k: deserialize(v) for k, v in item.items()} for item in items]


def _settled(entries: list[dict[str, Any]], keys: list[str], wait_for_reports: bool) -> bool:
    for key in keys:
        mine = [e for e in entries if e["idempotency_key"] == key]
        if not mine:
            return False
        done = FINAL if wait_for_reports else FINAL | {"SENT"}
        if any(e["status"] not in done for e in mine):
            return False
    return True


def run_demo(topology: LocalTopology, timeout: float, out: IO[str]) -> int:
    assert topology.sandbox is not None
    chosen = samples(topology)
    for sample in chosen:
        sample.fire(topology)
    keys = [k for s in chosen for k in s.keys]
    # With a delivery-report route the demo waits for the network's verdict, otherwise for the send.
    wait_for_reports = any(
        (e.get("Properties") or {}).get("Path", "").startswith("/delivery-reports")
        for spec in (topology.topology.functions.values() if topology.topology else [])
        for e in spec.events.values()
    )
    deadline = time.monotonic() + timeout
    entries = _ledger(topology)
    while not _settled(entries, keys, wait_for_reports) and time.monotonic() < deadline:
        time.sleep(0.25)
        entries = _ledger(topology)
    phones = {m["messageid"]: m for m in httpx.get(f"{topology.sandbox.url}/_sandbox/outbox").json()}

    rows = []
    for sample in chosen:
        for entry in sorted(
            (e for e in entries if e["idempotency_key"] in sample.keys), key=lambda e: e["recipient"]
        ):
            received = phones.get(entry.get("provider_message_id") or "", {})
            rows.append(
                (
                    sample.source,
                    entry["idempotency_key"],
                    entry["recipient"],
                    str(entry.get("parts") or "-"),
                    entry["status"],
                    entry.get("delivery_status") or received.get("delivery_status") or "-",
                    received.get("message") or entry.get("reason") or "",
                )
            )
    headers = ("SOURCE", "KEY", "PHONE", "PARTS", "STATUS", "DELIVERY", "WHAT THE PHONE RECEIVED")
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(6)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)) + "  " + headers[6], file=out)
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[6], file=out)
    arrived = _settled(entries, keys, wait_for_reports)
    missing = [
        e
        for e in entries
        if e["status"] in ("SENT", "DELIVERED") and e.get("provider_message_id") not in phones
    ]
    print(
        f"\n{len(rows)} messages, {len(phones)} SMS at the simulator: "
        + ("all arrived" if arrived and not missing else "NOT all arrived before the timeout"),
        file=out,
    )
    return 0 if arrived and not missing else 1
