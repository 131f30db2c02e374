"""`tuma local invoke FUNCTION [--event FILE]`: one function, once, with one event, against the running
`tuma local up`: the Docker-free counterpart of `sam local invoke`.

The function runs in the topology's own worker (the template's environment, the local AWS, the
simulators), through the topology's Lambda endpoint, as `sam remote invoke` runs a deployed one.
The answer is printed as the function returned it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from tuma_cli import stack

EXIT_OK, EXIT_FUNCTION_ERROR, EXIT_CONFIG = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "function", help="a function's directory (outbox_sender) or logical id (OutboxSenderFunction)"
    )
    parser.add_argument(
        "--event", default="-", help="a JSON event file, such as events/outbox_receipt.json (default: stdin)"
    )


def _event(source: str, stdin: TextIO) -> Any:
    text = stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    return json.loads(text) if text.strip() else {}


def run(
    args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr, stdin: TextIO = sys.stdin
) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    args.local = True  # a running `tuma local up` is what this invokes; --stack is `sam remote invoke`'s
    try:
        found = stack.locate(args)
        event = _event(args.event, stdin)
    except stack.Unconfigured as exc:
        print(f"configuration error: {exc}", file=err)
        return EXIT_CONFIG
    except (OSError, ValueError) as exc:
        print(f"configuration error: the event is not readable JSON: {exc}", file=err)
        return EXIT_CONFIG
    try:
        answer = found.lambda_client().invoke(FunctionName=args.function, Payload=json.dumps(event).encode())
    except ClientError as exc:
        print(f"configuration error: {exc.response['Error'].get('Message', exc)}", file=err)
        return EXIT_CONFIG
    except BotoCoreError as exc:
        print(f"configuration error: the local topology does not answer ({type(exc).__name__})", file=err)
        return EXIT_CONFIG
    payload = json.loads(answer["Payload"].read() or b"null")
    failed = bool(answer.get("FunctionError"))
    if args.json:
        print(json.dumps({"function": args.function, "error": failed, "answer": payload}, indent=2), file=out)
    else:
        print(json.dumps(payload, indent=2, ensure_ascii=False), file=err if failed else out)
    return EXIT_FUNCTION_ERROR if failed else EXIT_OK
