"""Write events/: sample events for `sam local invoke -e` and for `tuma local demo`.

Each event is a sample rendered by `sam local generate-event` (tests/fixtures/aws/sam-cli/) with its
payload replaced by one of Tuma's: outbox messages, Daraja callbacks from the shared fixtures, and
so on. `--check` fails when events/ is not what this script would write.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAM = ROOT / "tests" / "fixtures" / "aws" / "sam-cli"
EVENTS = ROOT / "events"
OUTBOX_ARN = "arn:aws:sqs:us-east-1:123456789012:tuma-OutboxQueue"


def _sam(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAM / name).read_text())
    return loaded


def sqs(body: dict[str, Any], message_id: str) -> dict[str, Any]:
    event = _sam("sqs_receive_message.json")
    record = event["Records"][0]
    text = json.dumps(body, ensure_ascii=False)
    record.update(
        {
            "messageId": message_id,
            "body": text,
            "md5OfBody": hashlib.md5(text.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
            "eventSourceARN": OUTBOX_ARN,
        }
    )
    return event


OUTBOX = {
    "outbox_receipt.json": sqs(
        {
            "idempotency_key": "SFK1A2B3C4",
            "to": ["0712 345 678"],
            "template": "receipt",
            "data": {
                "reference": "SFK1A2B3C4",
                "amount": "1500.00",
                "name": "Wanjiku Kamau",
                "account": "INV-2041",
                "paid_at": "2026-11-24T10:15:00+03:00",
            },
            "language": "en",
            "source": "example",
        },
        "5f0a1c9e-0000-4000-8000-000000000001",
    ),
    "outbox_alert.json": sqs(
        {
            "idempotency_key": "alert-42",
            "to": ["0722000000"],
            "template": "alert",
            "data": {"title": "Disk full", "host": "db-1", "severity": "critical"},
            "language": "sw",
        },
        "5f0a1c9e-0000-4000-8000-000000000002",
    ),
    "outbox_otp.json": sqs(
        {
            "idempotency_key": "otp-991",
            "to": ["254733123456"],
            "text": "Your Tuma code is 4821. It expires in 10 minutes.",
            "route": "otp",
        },
        "5f0a1c9e-0000-4000-8000-000000000003",
    ),
}


def all_events() -> dict[str, dict[str, Any]]:
    return copy.deepcopy(OUTBOX)


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    wanted = {name: render(event) for name, event in all_events().items()}
    if args.check:
        stale = [
            n for n, text in wanted.items() if not (EVENTS / n).exists() or (EVENTS / n).read_text() != text
        ]
        if stale:
            print(f"events/ is out of date ({', '.join(stale)}): run python scripts/make_events.py")
            return 1
        return 0
    EVENTS.mkdir(exist_ok=True)
    for name, text in wanted.items():
        (EVENTS / name).write_text(text)
    print(f"wrote {len(wanted)} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
