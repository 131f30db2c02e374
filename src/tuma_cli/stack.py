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
    "state": ("StateTableName", "StateTable", "STATE_TABLE"),
    "payments": ("PaymentsTableName", "PaymentsTable", "PAYMENTS_TABLE"),
    "privacy": ("PrivacyTableName", "PrivacyTable", "PRIVACY_TABLE"),
    "claims": ("ClaimsTableName", "IdempotencyTable", "IDEMPOTENCY_TABLE"),
    "customers": ("CustomersTableName", "CustomersTable", "CUSTOMERS_TABLE"),
}
# Output of the stack, logical id in the local READY information.
SECRETS = {
    "credentials": ("CredentialsSecretArn", "ProviderCredentialsSecret"),
    "secondary": ("SecondaryCredentialsSecretArn", "SecondaryCredentialsSecret"),
    "daraja": ("DarajaSecretArn", "DarajaSecret"),
    "webhook": ("WebhookSecretArn", "WebhookSecret"),
    "api_keys": ("ApiKeysSecretArn", "ApiKeysSecret"),
    "status_webhook": ("StatusWebhookSecretArn", "StatusWebhookSecret"),
    "daraja_callback": ("DarajaCallbackSecretArn", "DarajaCallbackSecret"),
    "provider_callback": ("ProviderCallbackSecretArn", "ProviderCallbackSecret"),
    "privacy": ("PrivacySecretArn", "PrivacySecret"),
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
    stack_name: str = "tuma-local"
    parameters: dict[str, str] = field(default_factory=dict)

    def physical_id(self, logical_id: str) -> str:
        """A deployed resource's name (a function's, say), from CloudFormation."""
        if self.endpoint is not None:
            return f"tuma-local-{logical_id}"
        answer = self.client("cloudformation").describe_stack_resource(
            StackName=self.stack_name, LogicalResourceId=logical_id
        )
        return str(answer["StackResourceDetail"]["PhysicalResourceId"])

    def lambda_client(self) -> Any:
        """Lambda's API: AWS's, or the local topology's Invoke endpoint (READY's lambda_endpoint_url)."""
        if self.endpoint is None:
            return self.client("lambda")
        url = self.ready.get("lambda_endpoint_url")
        if not url:
            raise Unconfigured("this local topology has no Lambda endpoint: restart tuma local up")
        from tuma_cli.local.provision import client

        return client("lambda", str(url))

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

    def secret(self, name: str) -> dict[str, Any]:
        """One of the stack's JSON secrets, read with the operator's credentials."""
        output, logical = SECRETS[name]
        secret_id = self.ready.get("secrets", {}).get(logical) or self.outputs.get(output)
        if not secret_id:
            raise Unconfigured(f"no {name} secret: the stack has no {output} output")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            raw = self.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        except (ClientError, BotoCoreError) as exc:
            raise Unconfigured(f"cannot read the {name} secret: {type(exc).__name__}") from None
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise Unconfigured(f"the {name} secret is not a JSON object")
        return value

    def put_secret(self, name: str, value: dict[str, Any]) -> None:
        """A new value for one of the stack's JSON secrets (a new version; Secrets Manager keeps the last)."""
        output, logical = SECRETS[name]
        secret_id = self.ready.get("secrets", {}).get(logical) or self.outputs.get(output)
        if not secret_id:
            raise Unconfigured(f"no {name} secret: the stack has no {output} output")
        self.client("secretsmanager").put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))

    def secret_id(self, name: str) -> str:
        output, logical = SECRETS[name]
        return str(self.ready.get("secrets", {}).get(logical) or self.outputs.get(output) or logical)

    def queue_url(self, logical_id: str, output: str) -> str | None:
        """A queue's URL: the local topology's by logical id, a deployed stack's by output name."""
        url = self.ready.get("queues", {}).get(logical_id) or self.outputs.get(output)
        return str(url) if url else None

    def webhook_base_url(self) -> str:
        base = self.ready.get("webhook_base_url") or self.outputs.get("WebhooksBaseUrl")
        if not base:
            raise Unconfigured("no webhooks URL: the stack has no WebhooksBaseUrl output")
        return str(base).rstrip("/")

    def daraja(self) -> dict[str, str]:
        """Daraja's base URL, Register URL version and ResponseType, as the stack was deployed with."""
        if self.endpoint is not None:
            local = self.ready.get("daraja")
            if not local:
                raise Unconfigured(
                    "this local topology runs without Daraja: start it with tuma local up --daraja"
                )
            return {k: str(v) for k, v in local.items()}
        if "DarajaBaseUrl" not in self.outputs:
            raise Unconfigured("the stack runs without Daraja: deploy it with Daraja=Enabled")
        return {
            "base_url": self.outputs["DarajaBaseUrl"],
            "register_url_version": self.outputs.get("DarajaRegisterUrlVersion", "v2"),
            "response_type": self.outputs.get("DarajaResponseType", "Completed"),
            "pull_times": self.outputs.get("DarajaPullTimes", "kenya"),
        }


def add_arguments(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """Where Tuma runs and how to answer: `--stack NAME | --local [--ready-file F]`, `--json`.

    Every command takes them the same way, before or after its subcommand: `tuma` itself holds the
    defaults, and every subcommand parser (`everywhere`) takes them without one, so that a value
    given at any level is the one the command reads."""
    options: list[tuple[str, dict[str, Any]]] = [
        (
            "--stack",
            {
                "metavar": "NAME",
                "help": "a deployed Tuma stack (found by its outputs, with your AWS credentials)",
            },
        ),
        ("--local", {"action": "store_true", "help": "the running `tuma local up`"}),
        ("--ready-file", {"type": Path, "help": "with --local: the READY file of that topology"}),
        ("--json", {"action": "store_true", "help": "machine-readable output"}),
    ]
    for flag, spec in options:
        if flag in parser._option_string_actions:
            continue  # the command's own option of that name (tuma local up --ready-file)
        parser.add_argument(flag, **(spec if top else spec | {"default": argparse.SUPPRESS}))


def everywhere(parser: argparse.ArgumentParser) -> None:
    """The common options on every subcommand, at every depth."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                add_arguments(sub)
                everywhere(sub)


def locate(args: argparse.Namespace) -> Stack:
    if getattr(args, "local", False) and getattr(args, "stack", None):
        raise Unconfigured("say where Tuma runs once: --stack NAME or --local, not both")
    if getattr(args, "local", False):
        return _local(getattr(args, "ready_file", None))
    if getattr(args, "stack", None):
        return _deployed(args.stack)
    tables = {
        name: os.environ[variable] for name, (_, _, variable) in TABLES.items() if os.environ.get(variable)
    }
    if not tables:
        raise Unconfigured("say where Tuma runs: --stack NAME, --local, or LEDGER_TABLE / TEMPLATES_TABLE")
    return Stack(tables)


def _local(ready_file: Path | None) -> Stack:
    from tuma_cli.ready import ready_file as default_ready_file

    path = ready_file or default_ready_file()
    if not path.is_file():
        raise Unconfigured(f"no running `tuma local up` found ({path} does not exist)")
    return of_ready(json.loads(path.read_text()))


def of_ready(ready: dict[str, Any]) -> Stack:
    """A running local topology, from its READY information."""
    local = ready.get("tables", {})
    tables = {name: local[key] for name, (_, key, _) in TABLES.items() if key in local}
    parameters = {k: str(v) for k, v in (ready.get("parameters") or {}).items()}
    return Stack(tables, ready["aws_endpoint_url"], ready.get("region"), ready=ready, parameters=parameters)


def _deployed(name: str) -> Stack:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        description = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    except (ClientError, BotoCoreError) as exc:
        raise Unconfigured(f"cannot read stack {name!r}: {exc}") from None
    outputs: dict[str, str] = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in description.get("Parameters", [])}
    tables = {table: outputs[output] for table, (output, _, _) in TABLES.items() if output in outputs}
    return Stack(tables, outputs=outputs, stack_name=name, parameters=parameters)
