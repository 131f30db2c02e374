"""Where a Tuma stack's resources are, for the operator's commands and console: a deployed stack
(`--stack NAME`, from its outputs, with the operator's own AWS credentials), the running
`tuma local up` (`--local`, from its READY file), or environment variables."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Output of the stack, key in the local READY information, environment variable.
TABLES = {
    "ledger": ("LedgerTableName", "LedgerTable", "LEDGER_TABLE"),
    "templates": ("TemplatesTableName", "TemplatesTable", "TEMPLATES_TABLE"),
}


class Unconfigured(Exception):
    """The stack could not be found or read: the message says what to do."""


@dataclass
class Stack:
    tables: dict[str, str]
    endpoint: str | None = None  # the local emulator; None means AWS itself
    region: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    ready: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        import boto3

        if self.endpoint is None:
            factory: Any = boto3.client
            return factory(service)
        from tuma_cli.local.provision import client

        return client(service, self.endpoint)

    def table(self, name: str) -> str:
        if name not in self.tables:
            output, _, variable = TABLES[name]
            raise Unconfigured(f"no {name} table: the stack has no {output} output and {variable} is unset")
        return self.tables[name]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--stack", help="a deployed Tuma stack (found by its outputs, with your AWS credentials)"
    )
    where.add_argument("--local", action="store_true", help="the running `tuma local up`")
    parser.add_argument("--ready-file", type=Path, help="with --local: the READY file of that topology")


def locate(args: argparse.Namespace) -> Stack:
    if getattr(args, "local", False):
        return _local(args.ready_file)
    if getattr(args, "stack", None):
        return _deployed(args.stack)
    tables = {
        name: os.environ[variable] for name, (_, _, variable) in TABLES.items() if os.environ.get(variable)
    }
    if not tables:
        raise Unconfigured("say where Tuma runs: --stack NAME, --local, or LEDGER_TABLE / TEMPLATES_TABLE")
    return Stack(tables)


def _local(ready_file: Path | None) -> Stack:
    from tuma_cli.local.runner import ready_file as default_ready_file

    path = ready_file or default_ready_file()
    if not path.is_file():
        raise Unconfigured(f"no running `tuma local up` found ({path} does not exist)")
    ready = json.loads(path.read_text())
    local = ready.get("tables", {})
    tables = {name: local[key] for name, (_, key, _) in TABLES.items() if key in local}
    return Stack(tables, ready["aws_endpoint_url"], ready.get("region"), ready=ready)


def _deployed(name: str) -> Stack:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        description = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    except (ClientError, BotoCoreError) as exc:
        raise Unconfigured(f"cannot read stack {name!r}: {exc}") from None
    outputs: dict[str, str] = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    tables = {table: outputs[output] for table, (output, _, _) in TABLES.items() if output in outputs}
    return Stack(tables, outputs=outputs)
