"""`tuma`: see `tuma --help` and the command table of docs/design.md."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tuma.security.redaction import scrub_text


class _ScrubbingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub_text(super().format(record))


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler], force=True)


def _local_commands(commands: Any) -> None:
    local = commands.add_parser("local", help="the whole topology on this machine")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    up = local_commands.add_parser("up", help="start everything and wait")
    up.add_argument("--port", type=int, default=3000, help="port of the webhooks front (0: any free port)")
    up.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a template parameter, as sam deploy --parameter-overrides does",
    )
    up.add_argument(
        "--schedule-period",
        type=float,
        default=None,
        help="run every schedule this often, in seconds (locally only)",
    )
    up.add_argument(
        "--no-delivery-callbacks",
        action="store_true",
        help="the simulator posts no delivery reports: they are learnt by polling (getdlr)",
    )
    up.add_argument(
        "--secondary-provider",
        action="store_true",
        help="start a second simulator as the secondary provider (failover); READY names secondary_simulator_url",
    )
    up.add_argument(
        "--daraja",
        action="store_true",
        help="start a Daraja simulator (OAuth, Register URL, Pull, Transaction Status) and pull from it "
        "every few seconds; READY names daraja_simulator_url",
    )
    up.add_argument(
        "--record-aws-calls",
        type=Path,
        default=None,
        metavar="FILE",
        help="append every AWS call each function makes to FILE (JSON lines), to check them against its role",
    )
    up.add_argument("--console", action="store_true", help="serve the operator's console beside it")
    up.add_argument("--console-port", type=int, default=8900)
    up.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        help="where to write the READY information (default .local/ready.json)",
    )
    from tuma_cli.local import invoke

    invoke.add_arguments(
        local_commands.add_parser(
            "invoke",
            help="run one function once with one event against the running topology (sam local invoke)",
        )
    )
    demo = local_commands.add_parser("demo", help="start everything, send the sample events, report, exit")
    demo.add_argument("--port", type=int, default=0)
    demo.add_argument("--timeout", type=float, default=60.0)
    demo.add_argument(
        "--no-delivery-callbacks", action="store_true", help="learn every delivery report by polling instead"
    )
    demo.add_argument(
        "--keep", action="store_true", help="keep the topology and its console running after the report"
    )
    demo.add_argument(
        "--daraja",
        action="store_true",
        help="with a Daraja simulator: payments whose callbacks are dropped still get their receipts (by pull)",
    )


def _installed_version() -> str:
    """The version of the installed package: what an operator reports when asking for help."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tuma")
    except PackageNotFoundError:  # run from a checkout without installing
        return "(not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tuma", description="Business events to SMS.")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--version", action="version", version=f"tuma {_installed_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    from tuma_cli.sandbox import cli as sandbox_cli

    sandbox = commands.add_parser("sandbox", help="run the provider simulator alone")
    sandbox_cli.add_arguments(sandbox)

    send = commands.add_parser("send", help="send one text through the configured provider")
    send.add_argument("--to", required=True, help="numbers, comma-separated, any Kenyan form")
    send.add_argument("--text", required=True)
    send.add_argument("--route", choices=("sms", "otp"), default="sms")

    commands.add_parser("balance", help="the provider credit balance")

    dlr = commands.add_parser("dlr", help="the delivery report of one message")
    dlr.add_argument("message_id")

    from tuma_cli import templates_cli

    templates = commands.add_parser(
        "templates", help="the business's own wording: list, show, put, preview, history, use, routing"
    )
    templates_cli.add_arguments(templates)

    from tuma_cli import messages_cli

    messages_cli.add_trace_arguments(
        commands.add_parser("trace", help="a message's story: by key, receipt number or phone")
    )
    messages_cli.add_cancel_arguments(
        commands.add_parser("cancel", help="withdraw a scheduled message before it goes")
    )

    from tuma_cli import daraja_cli, payments_cli

    daraja_cli.add_arguments(
        commands.add_parser(
            "daraja", help="Daraja: register the callback URLs and Pull; ask M-Pesa about a receipt"
        )
    )
    payments_cli.add_arguments(
        commands.add_parser("payments", help="the day's payments: how each was learnt, and its receipt")
    )

    from tuma_cli import keys_cli, secrets_cli

    secrets_cli.add_arguments(
        commands.add_parser("secrets", help="rotate the path token of Daraja's or the provider's callbacks")
    )
    keys_cli.add_arguments(
        commands.add_parser(
            "keys", help="the business's API keys: create, list, rotate, revoke (each with scopes)"
        )
    )

    from tuma_cli import doctor, guards_cli

    guards_cli.add_caps_arguments(
        commands.add_parser("caps", help="the caps on SMS parts: show them and today's use, or set them now")
    )
    for switch, words in (
        ("pause", "hold messages (all, or one category) until resumed"),
        ("resume", "let them go"),
    ):
        guards_cli.add_pause_arguments(commands.add_parser(switch, help=words))

    from tuma_cli import privacy_cli

    privacy_cli.add_suppress_arguments(
        commands.add_parser("suppress", help="the suppression list: add, remove, list, check a number")
    )
    privacy_cli.add_consent_arguments(
        commands.add_parser("consent", help="consents to promotional messages: add, remove, list")
    )
    privacy_cli.add_privacy_arguments(
        commands.add_parser("privacy", help="one person's data: export it, erase it; the requests' log")
    )

    doctor.add_arguments(
        commands.add_parser(
            "doctor", help="a checklist of the stack: what works, and how to mend what does not"
        )
    )
    from tuma_cli import deploy_cli

    deploy_cli.add_arguments(
        commands.add_parser(
            "deploy", help="sam deploy, asking only what a first deploy must decide (--guided)"
        )
    )

    from tuma_cli.console import serve as console_serve

    console_serve.add_arguments(commands.add_parser("console", help="the operator's web page, on 127.0.0.1"))

    _local_commands(commands)
    # --stack/--local/--json, the same way before or after any subcommand.
    from tuma_cli import stack

    stack.add_arguments(parser, top=True)
    stack.everywhere(parser)
    return parser


def _local(args: argparse.Namespace) -> int:
    if args.local_command == "invoke":
        from tuma_cli.local import invoke

        return invoke.run(args)
    if args.local_command == "up":
        from tuma_cli.local import runner

        return runner.up(
            args.port,
            dict(p.split("=", 1) for p in args.parameter if "=" in p),
            args.ready_file,
            schedule_period=args.schedule_period,
            delivery_callbacks=not args.no_delivery_callbacks,
            console_port=args.console_port if args.console else None,
            secondary_provider=args.secondary_provider,
            daraja=args.daraja,
            record_aws_calls=args.record_aws_calls,
        )
    from tuma_cli.local import demo

    return demo.demo(
        args.port,
        args.timeout,
        delivery_callbacks=not args.no_delivery_callbacks,
        keep=args.keep,
        daraja=args.daraja,
    )


# Commands with their own module, imported only when asked for (each pulls its own libraries):
# command -> (module, function taking the parsed arguments).
TOOLS = {
    "sandbox": ("tuma_cli.sandbox.cli", "run"),
    "console": ("tuma_cli.console.serve", "run"),
    "templates": ("tuma_cli.templates_cli", "run"),
    "daraja": ("tuma_cli.daraja_cli", "run"),
    "payments": ("tuma_cli.payments_cli", "run"),
    "secrets": ("tuma_cli.secrets_cli", "run"),
    "keys": ("tuma_cli.keys_cli", "run"),
    "doctor": ("tuma_cli.doctor", "run"),
    "deploy": ("tuma_cli.deploy_cli", "run"),
    "caps": ("tuma_cli.guards_cli", "run"),
    "pause": ("tuma_cli.guards_cli", "run"),
    "resume": ("tuma_cli.guards_cli", "run"),
    "suppress": ("tuma_cli.privacy_cli", "run"),
    "consent": ("tuma_cli.privacy_cli", "run"),
    "privacy": ("tuma_cli.privacy_cli", "run"),
    "trace": ("tuma_cli.messages_cli", "trace"),
    "cancel": ("tuma_cli.messages_cli", "cancel"),
}


def _tool(args: argparse.Namespace) -> int:
    import importlib

    module, function = TOOLS[args.command]
    result: int = getattr(importlib.import_module(module), function)(args)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose)
    if args.command == "local":
        return _local(args)
    if args.command in TOOLS:
        return _tool(args)
    from tuma_cli import operator

    commands: dict[str, Callable[[], int]] = {
        "send": lambda: operator.send(args.to, args.text, args.route, args.json),
        "balance": lambda: operator.balance(args.json),
        "dlr": lambda: operator.dlr(args.message_id, args.json),
    }
    return operator.guard(commands[args.command])


if __name__ == "__main__":
    sys.exit(main())
