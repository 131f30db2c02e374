"""`tuma deploy [--guided] [--set NAME=VALUE] [--no-execute]`: a first deploy's questions, then `sam deploy`.

`sam deploy --guided` asks for every parameter of template.yaml, in template order and without its
description (64 of them; the alert recipients came 44th). A first deploy has to decide only what is
asked here; everything else keeps the default the README recommends and stays changeable with
`--set NAME=VALUE` (or in samconfig.toml). Each question shows the parameter's own description and
is checked against its own AllowedValues, AllowedPattern and bounds, all read from the template, so
that the questions cannot drift from what CloudFormation accepts. The answers go to samconfig.toml
(which git ignores: it holds phone numbers and e-mail addresses) in the form `sam deploy` reads.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

EXIT_OK, EXIT_REFUSED, EXIT_CONFIG = 0, 1, 2
QUOTE, ESCAPED_QUOTE = '"', '\\"'

# What a first deploy must decide, in the order a person thinks of it; each with when it is asked.
Answers = Mapping[str, str]
QUESTIONS: tuple[tuple[str, Callable[[Answers], bool]], ...] = (
    ("ProviderBaseUrl", lambda _: True),
    ("BulkLimit", lambda _: True),
    ("BusinessName", lambda _: True),
    ("AlertRecipients", lambda _: True),
    ("AlarmEmail", lambda _: True),
    ("NetworkMode", lambda _: True),
    ("ExistingSubnetIds", lambda a: a.get("NetworkMode") == "ExistingSubnets"),
    ("ExistingSecurityGroupIds", lambda a: a.get("NetworkMode") == "ExistingSubnets"),
    ("Daraja", lambda _: True),
    ("BusinessShortCodes", lambda a: a.get("Daraja") == "Enabled"),
    # Safaricom refuses callback URLs with "exec" in them: API Gateway's own host has it.
    ("CustomDomainName", lambda a: a.get("Daraja") == "Enabled"),
    ("CustomDomainCertificateArn", lambda a: bool(a.get("CustomDomainName"))),
    ("SilenceAlarmHours", lambda _: True),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--guided", action="store_true", help="ask what a first deploy must decide")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other template parameter (repeat); kept in samconfig.toml for the next deploys",
    )
    parser.add_argument(
        "--region", help="the AWS region (default: samconfig.toml's, then your AWS configuration's)"
    )
    parser.add_argument("--config-file", type=Path, default=Path("samconfig.toml"))
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument(
        "--no-execute",
        action="store_true",
        help="write samconfig.toml and print the sam command; deploy nothing",
    )


class _Stop(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def run(
    args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr, answers: TextIO = sys.stdin
) -> int:
    try:
        chosen = _configure(args, out, answers)
    except _Stop as stop:
        print(str(stop), file=err)
        return stop.code
    command = [_sam(), "deploy", "--config-file", str(args.config_file)]
    print(
        f"\nsaved to {args.config_file} ({len(chosen)} parameters set; the others keep their defaults)",
        file=out,
    )
    if args.no_execute:
        print("deploy with: " + shlex.join(command), file=out)
        return EXIT_OK
    if not Path(".aws-sam/build/template.yaml").exists():
        print("configuration error: nothing built: run `make build` first", file=err)
        return EXIT_CONFIG
    return subprocess.call(command)  # noqa: S603 - our own argument list, no shell


def _configure(args: argparse.Namespace, out: TextIO, answers: TextIO) -> dict[str, str]:
    """The answers and settings, written to samconfig.toml; what was chosen."""
    from tuma_cli.local.template import load

    if not args.template.exists():
        raise _Stop(
            EXIT_CONFIG, f"configuration error: no {args.template}: run tuma deploy in your clone of Tuma"
        )
    parameters: dict[str, dict[str, Any]] = load(args.template)["Parameters"]
    config = _read_config(args.config_file)
    deploy = config.setdefault("default", {}).setdefault("deploy", {}).setdefault("parameters", {})
    chosen = _overrides(str(deploy.get("parameter_overrides", "")))
    try:
        chosen |= _settings(args.set, parameters)
    except ValueError as exc:
        raise _Stop(EXIT_CONFIG, f"configuration error: {exc}") from exc
    stack_name = getattr(args, "stack", None) or str(deploy.get("stack_name") or _global_stack(config))
    region = args.region or str(deploy.get("region") or _environment_region())
    if args.guided:
        try:
            stack_name = _ask_plain("Stack name", stack_name, answers, out)
            region = _ask_plain("AWS region (af-south-1 is Cape Town, the nearest)", region, answers, out)
            chosen = _ask_all(parameters, chosen, answers, out)
        except EOFError as exc:
            raise _Stop(EXIT_REFUSED, "\nstopped: nothing written") from exc
    if not region:
        raise _Stop(
            EXIT_CONFIG, "configuration error: say the region: --region, or in your AWS configuration"
        )
    deploy |= {"stack_name": stack_name, "region": region, "parameter_overrides": _overrides_text(chosen)}
    args.config_file.write_text(_toml(config), encoding="utf-8")
    return chosen


def _ask_all(
    parameters: dict[str, dict[str, Any]], chosen: dict[str, str], answers: TextIO, out: TextIO
) -> dict[str, str]:
    chosen = dict(chosen)
    for name, asked in QUESTIONS:
        if not asked(chosen):
            continue
        spec = parameters[name]
        while True:
            value = _ask(name, spec, chosen.get(name, str(spec.get("Default", ""))), answers, out)
            problem = _problem(spec, value) or _beyond_the_template(name, value, chosen)
            if problem is None:
                break
            print(f"  {problem}", file=out)
        chosen[name] = value
    return chosen


def _ask(name: str, spec: dict[str, Any], current: str, answers: TextIO, out: TextIO) -> str:
    description = " ".join(str(spec.get("Description", "")).split())
    print("\n" + textwrap.fill(description, width=100, initial_indent="  ", subsequent_indent="  "), file=out)
    allowed = spec.get("AllowedValues")
    choices = f" ({' | '.join(map(str, allowed))})" if allowed else ""
    return _ask_plain(f"{name}{choices}", current, answers, out)


def _ask_plain(question: str, current: str, answers: TextIO, out: TextIO) -> str:
    print(f"{question} [{current}]: ", end="", file=out, flush=True)
    line = answers.readline()
    if not line:
        raise EOFError
    return line.strip() or current


def _problem(spec: dict[str, Any], value: str) -> str | None:
    """What CloudFormation would refuse in this value, in its own words where the template has them."""
    allowed = spec.get("AllowedValues")
    if allowed and value not in [str(a) for a in allowed]:
        return f"one of: {', '.join(map(str, allowed))}"
    if spec.get("Type") == "Number" and (problem := _number_problem(spec, value)):
        return problem
    pattern = spec.get("AllowedPattern")
    if pattern and not re.fullmatch(pattern, value):
        return str(spec.get("ConstraintDescription") or f"must match {pattern}")
    return None


def _number_problem(spec: dict[str, Any], value: str) -> str | None:
    try:
        number = float(value)
    except ValueError:
        return "a number"
    low, high = spec.get("MinValue", float("-inf")), spec.get("MaxValue", float("inf"))
    return None if low <= number <= high else f"between {low} and {high}"


def _environment_region() -> str:
    """The region the AWS CLI would use (its environment variables, then ~/.aws/config)."""
    import botocore.session

    return str(botocore.session.get_session().get_config_variable("region") or "")


def _beyond_the_template(name: str, value: str, chosen: Mapping[str, str]) -> str | None:
    """What the template cannot say: somebody hears the alarms, at numbers an SMS can reach."""
    if name == "AlarmEmail" and not value and not chosen.get("AlertRecipients"):
        return "somebody must hear the alarms: give an e-mail address here, or numbers in AlertRecipients"
    if name == "AlertRecipients":
        from tuma.formatting.phones import InvalidNumber, parse_recipient

        for number in filter(None, (n.strip() for n in value.replace(";", ",").split(","))):
            try:
                parse_recipient(number)
            except InvalidNumber as exc:
                return f"{number[:4]}…: {exc}"
    return None


def _settings(pairs: list[str], parameters: dict[str, dict[str, Any]]) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or name not in parameters:
            raise ValueError(f"--set {pair}: not NAME=VALUE with a parameter of the template")
        if (problem := _problem(parameters[name], value)) is not None:
            raise ValueError(f"--set {name}: {problem}")
        settings[name] = value
    return settings


def _overrides(text: str) -> dict[str, str]:
    """samconfig.toml's parameter_overrides ('A=b C="d e"'), as `sam deploy --guided` writes it."""
    return dict(part.split("=", 1) for part in shlex.split(text) if "=" in part)


def _overrides_text(chosen: Mapping[str, str]) -> str:
    # SAM undoes \" inside a quoted value and nothing else (a backslash stays as it is).
    return " ".join(f'{name}="{value.replace(QUOTE, ESCAPED_QUOTE)}"' for name, value in chosen.items())


def _escaped(value: str) -> str:
    """A TOML basic string's escapes."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _global_stack(config: dict[str, Any]) -> str:
    return str(config.get("default", {}).get("global", {}).get("parameters", {}).get("stack_name", "tuma"))


def _read_config(path: Path) -> dict[str, Any]:
    for candidate in (path, Path("samconfig.example.toml")):
        if candidate.exists():
            return tomllib.loads(candidate.read_text(encoding="utf-8"))
    return {"version": 0.1}


def _toml(config: dict[str, Any]) -> str:
    """samconfig.toml's shape only: `version`, then [env.command.parameters] tables of scalars."""
    lines = [
        "# Written by `tuma deploy` (the first deploy's answers, then --set): git ignores this file, which",
        "# holds phone numbers and e-mail addresses. `sam deploy` reads it as it is.",
        f"version = {config.get('version', 0.1)}",
    ]
    for env, commands in config.items():
        if not isinstance(commands, dict):
            continue
        for command, sections in commands.items():
            for section, values in sections.items():
                lines += ["", f"[{env}.{command}.{section}]"]
                lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + _escaped(str(value)) + '"'


def _sam() -> str:
    """The pinned SAM CLI `make sam` installs, else one on PATH."""
    for candidate in (os.environ.get("TUMA_SAM"), ".venv-sam/bin/sam", shutil.which("sam")):
        if candidate and Path(candidate).exists():
            return candidate
    return "sam"
