"""How the outbox sender spends a batch: provider calls, AWS calls and time for N outbox messages.

Runs the real function against an in-process moto server and the provider simulator on loopback:
    .venv/bin/python bench/outbox_batch.py [--messages 100] [--bulk-limit 100] [--brand-limit 1000]
Prints figures; asserts nothing. Wall-clock numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--bulk-limit", type=int, default=100, help="SMS_BULK_LIMIT")
    parser.add_argument("--brand-limit", type=int, default=1000, help="the simulator's sendbulk limit")
    parser.add_argument("--batch-size", type=int, default=100, help="the SQS event source's BatchSize")
    args = parser.parse_args()

    from bench import in_process
    from tuma_cli.local.context import LocalContext
    from tuma_cli.local.provision import client
    from tuma_cli.local.sqs_poller import SqsPoller
    from tuma_cli.sandbox.platform import SimulatorSettings, SmsPlatform
    from tuma_cli.sandbox.server import SandboxServer

    sandbox = SandboxServer(
        SmsPlatform(SimulatorSettings(bulk_limit=args.brand_limit, dlr_delay=3600))
    ).start()
    running = in_process.start({"ProviderBaseUrl": sandbox.url})
    endpoint, topology = running.endpoint, running.topology
    settings = sandbox.platform.settings
    client("secretsmanager", endpoint).put_secret_value(
        SecretId=topology.ref("ProviderCredentialsSecret"),
        SecretString=json.dumps(
            {"apikey": settings.apikey, "partnerID": settings.partner_id, "shortcode": settings.shortcode}
        ),
    )
    started = time.perf_counter()
    handler = running.handler("outbox_sender", SMS_BULK_LIMIT=str(args.bulk_limit))
    cold = time.perf_counter() - started

    sqs = client("sqs", endpoint)
    queue = topology.resources["OutboxQueue"]
    for start in range(0, args.messages, 10):
        sqs.send_message_batch(
            QueueUrl=queue["QueueUrl"],
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": json.dumps(
                        {
                            "idempotency_key": f"BENCH{start + i:06d}",
                            "to": [f"0712{start + i:06d}"],
                            "template": "receipt",
                            "data": {"reference": f"BENCH{start + i:06d}", "amount": 1500, "name": "Wanjiku"},
                        }
                    ),
                }
                for i in range(min(10, args.messages - start))
            ],
        )
    poller = SqsPoller(
        sqs,
        queue["QueueUrl"],
        queue["Arn"],
        lambda e: handler(e, LocalContext("bench", 60)),
        batch_size=args.batch_size,
    )
    started = time.perf_counter()
    sent = 0
    while True:
        result = poller.poll_once()
        if not result.received:
            break
        sent += result.deleted
    elapsed = time.perf_counter() - started
    requests = sandbox.platform.requests
    print(f"messages            {args.messages}")
    print(f"delivered to sim    {len(sandbox.platform.outbox)}")
    print(f"invocations         {poller.invocations} (batch size {args.batch_size})")
    print(f"provider requests   {sum(requests.values())} {dict(requests)}")
    print(f"bulk limit          configured {args.bulk_limit}, brand {args.brand_limit}")
    print(f"handler import      {cold * 1000:.0f} ms (cold start, this machine)")
    print(f"send phase          {elapsed * 1000:.0f} ms, {args.messages / elapsed:.0f} messages/s")
    sandbox.stop()
    running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
