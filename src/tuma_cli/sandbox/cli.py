"""`tuma sandbox`: the provider simulator alone, until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import threading
from decimal import Decimal
from typing import TYPE_CHECKING

from tuma_cli.sandbox.faults import KINDS, FaultPlan
from tuma_cli.sandbox.platform import SimulatorSettings, SmsPlatform

if TYPE_CHECKING:
    # The server needs httpx (the `local` extra): an operator's install without it still runs `tuma`.
    from tuma_cli.sandbox.server import SandboxServer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    defaults = SimulatorSettings()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(env("SANDBOX_PORT", "8800")))
    parser.add_argument("--apikey", default=env("SANDBOX_APIKEY", defaults.apikey))
    parser.add_argument("--partner-id", default=env("SANDBOX_PARTNER_ID", defaults.partner_id))
    parser.add_argument(
        "--shortcode",
        default=env("SANDBOX_SHORTCODE", defaults.shortcode),
        help="the sender id, case-sensitive",
    )
    parser.add_argument(
        "--credit",
        type=Decimal,
        default=Decimal(env("SANDBOX_CREDIT", str(defaults.credit))),
        help="units; each SMS part costs one",
    )
    parser.add_argument(
        "--bulk-limit", type=int, default=int(env("SANDBOX_BULK_LIMIT", str(defaults.bulk_limit)))
    )
    parser.add_argument(
        "--comma-limit", type=int, default=int(env("SANDBOX_COMMA_LIMIT", str(defaults.comma_limit)))
    )
    parser.add_argument(
        "--dlr-delay",
        type=float,
        default=float(env("SANDBOX_DLR_DELAY", str(defaults.dlr_delay))),
        help="seconds before a delivery report is available and posted",
    )
    parser.add_argument(
        "--callback-url", default=env("SANDBOX_CALLBACK_URL"), help="where delivery reports are POSTed"
    )
    parser.add_argument(
        "--dialect", choices=("advanta", "wavesms"), default=env("SANDBOX_DIALECT", "advanta")
    )
    parser.add_argument(
        "--unicode",
        choices=("reject", "allow"),
        default="reject",
        help="non-GSM7 texts: refuse with 1009 (default) or bill as UCS-2",
    )
    parser.add_argument("--fault-rate", type=float, default=float(env("SANDBOX_FAULT_RATE", "0")))
    parser.add_argument(
        "--faults", default=env("SANDBOX_FAULTS", "5xx"), help=f"comma-separated kinds: {', '.join(KINDS)}"
    )
    parser.add_argument("--slow-seconds", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--duplicate-callbacks", action="store_true", help="post every delivery report twice")


def build(args: argparse.Namespace) -> SandboxServer:
    from tuma_cli.sandbox.server import SandboxServer

    settings = SimulatorSettings(
        apikey=args.apikey,
        partner_id=str(args.partner_id),
        shortcode=args.shortcode,
        credit=args.credit,
        bulk_limit=args.bulk_limit,
        comma_limit=args.comma_limit,
        dlr_delay=args.dlr_delay,
        callback_url=args.callback_url,
        dialect=args.dialect,
        unicode=args.unicode,
    )
    faults = FaultPlan(
        rate=args.fault_rate,
        kinds=tuple(k.strip() for k in args.faults.split(",") if k.strip()),
        slow_seconds=args.slow_seconds,
        seed=args.seed,
    )
    return SandboxServer(
        SmsPlatform(settings),
        faults,
        host=args.host,
        port=args.port,
        duplicate_callbacks=args.duplicate_callbacks,
    )


def run(args: argparse.Namespace) -> int:
    server = build(args).start()
    settings = server.platform.settings
    # The simulator's key is a test value chosen on the command line, so it is shown to be copied.
    print(
        "SANDBOX "
        + json.dumps(
            {
                "url": server.url,
                "apikey": settings.apikey,
                "partnerID": settings.partner_id,
                "shortcode": settings.shortcode,
                "callback_url": settings.callback_url,
            }
        ),
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop()
    return 0
