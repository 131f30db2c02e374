"""Serving the console: on 127.0.0.1 only, in the foreground (`tuma console`) or beside a running
local topology (`tuma local up --console`)."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from typing import Any

from tuma_cli import stack as stacks

DEFAULT_PORT = 8900


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})"
    )


def _server(found: stacks.Stack, port: int, where: str) -> Any:
    import uvicorn

    from tuma_cli.console.app import create_app
    from tuma_cli.console.backend import connect

    app = create_app(connect(found), port, where)
    # No access log: a page's address names a message key, and quiet is kinder to a terminal.
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    return uvicorn.Server(config)


def run(args: argparse.Namespace) -> int:
    try:
        found = stacks.locate(args)
    except stacks.Unconfigured as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    where = (
        "local topology"
        if args.local
        else f"stack {args.stack}"
        if args.stack
        else "tables from the environment"
    )
    server = _server(found, args.port, where)
    print(f"CONSOLE http://127.0.0.1:{args.port}/ ({where}); Ctrl-C stops it", flush=True)
    server.run()
    return 0


def beside(ready: dict[str, Any], port: int) -> tuple[str, Any]:
    """The console for a running local topology, served from a thread; answers its address and server."""
    server = _server(stacks.of_ready(ready), port, "local topology")
    thread = threading.Thread(target=server.run, name="console", daemon=True)
    thread.start()
    logging.getLogger(__name__).debug("console on %s", port)
    return f"http://127.0.0.1:{port}/", server
