"""`tuma daraja`: register Tuma's callback URLs and Pull with Daraja, and ask M-Pesa about one receipt.

Against a deployed stack (`--stack NAME`: the Daraja secret, the webhooks URL and the parameters are
its outputs) or the running `tuma local up --daraja` (`--local`). Daraja is called from this machine,
with the Daraja secret read with the operator's AWS credentials; the OAuth token is fetched for this
command and kept in its memory only (no table holds it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from tuma_cli import stack

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tuma.adapters.dynamodb_ledger_views import LedgerViews
    from tuma.daraja.client import DarajaClient
    from tuma.models.daraja import Registration
    from tuma.models.daraja_credentials import DarajaCredentials
    from tuma.models.ledger import LedgerEntry
    from tuma.ports import StateStore
    from tuma.services.daraja_setup import CallbackUrls, Step

EXIT_OK, EXIT_REFUSED, EXIT_CONFIG = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="daraja_command", required=True)
    register = commands.add_parser(
        "register", help="register the C2B confirmation and validation URLs, and Pull, for each short code"
    )
    register.add_argument(
        "--version",
        choices=("v1", "v2"),
        help="Register URL version (default: the stack's DarajaRegisterUrlVersion)",
    )
    register.add_argument(
        "--response-type",
        choices=("Completed", "Cancelled"),
        help="what M-Pesa does when validation is unreachable (default: the stack's DarajaResponseType)",
    )
    status = commands.add_parser("status", help="ask M-Pesa (Transaction Status) about one receipt number")
    status.add_argument("receipt", help="the M-Pesa receipt number, e.g. QKX3ABCDEF")
    status.add_argument(
        "--wait", type=float, default=30.0, help="seconds to wait for M-Pesa's answer (0: ask and return)"
    )
    status.add_argument(
        "--short-code",
        help="the short code the payment was made to (needed for a receipt Tuma never saw, when you have several)",
    )
    credential = commands.add_parser(
        "credential",
        help="store the initiator's password, encrypted with Safaricom's certificate, as the security credential",
    )
    credential.add_argument(
        "--initiator", help="the initiator's name (default: the one in the Daraja secret)"
    )
    credential.add_argument(
        "--certificate",
        metavar="PATH",
        help="Safaricom's certificate, if it published a new one (default: the one for DarajaBaseUrl)",
    )
    credential.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input, not the terminal",
    )


@dataclass
class Connection:
    found: stack.Stack
    client: DarajaClient
    credentials: DarajaCredentials
    urls: CallbackUrls
    token: str
    settings: dict[str, str]
    records: StateStore | None = None  # the state table: what was registered (tuma.services.daraja_urls)


def connect(found: stack.Stack) -> Connection:
    """Daraja's client and Tuma's callback URLs for this stack; Unconfigured when Daraja is off."""
    from tuma.adapters.dynamodb_state import DynamoDBStateStore
    from tuma.adapters.http import Urllib3Http
    from tuma.daraja.client import DarajaClient
    from tuma.errors import ConfigurationError
    from tuma.models.daraja import PullTimes
    from tuma.models.daraja_credentials import DarajaCredentials
    from tuma.services.daraja_setup import CallbackUrls

    settings = found.daraja()
    try:
        credentials = DarajaCredentials.parse(found.secret("daraja"), "the Daraja secret")
    except ConfigurationError as exc:
        raise stack.Unconfigured(str(exc)) from None
    if credentials.placeholder:
        raise stack.Unconfigured(
            "the Daraja secret still holds REPLACE_ME: put your app's consumer key and secret and your "
            "short codes in it (output DarajaSecretArn)"
        )
    token = str(found.secret("daraja_callback").get("token", ""))
    store = (
        DynamoDBStateStore(found.client("dynamodb"), found.table("state"))
        if "state" in found.tables
        else None
    )
    client = DarajaClient(
        settings["base_url"],
        lambda: credentials,
        Urllib3Http(5.0, 30.0),
        times=PullTimes(settings.get("pull_times", "kenya")),
    )
    return Connection(
        found, client, credentials, CallbackUrls.at(found.webhook_base_url(), token), token, settings, store
    )


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    from tuma.models.daraja import DarajaFailure

    try:
        if args.daraja_command == "credential":
            from tuma_cli.daraja_credential import store_credential

            return store_credential(stack.locate(args), args, out, err)
        connection = connect(stack.locate(args))
        if args.daraja_command == "register":
            return register(connection, args, out)
        return status(connection, args, out, err)
    except stack.Unconfigured as exc:
        print(f"configuration error: {exc}", file=err)
        return EXIT_CONFIG
    except DarajaFailure as failure:
        print(f"Daraja: {failure.description}", file=err)
        return EXIT_REFUSED


def register(connection: Connection, args: argparse.Namespace, out: TextIO) -> int:
    problems = url_problems(connection)
    if problems:
        return _refuse(connection, problems, args.json, out)
    steps = register_steps(connection, args.version, args.response_type)
    ok = all(step.result.ok for step in steps)
    if args.json:
        print(json.dumps(_registered(connection, steps, ok), indent=2), file=out)
    else:
        _print_registered(connection, steps, ok, out)
    return EXIT_OK if ok else EXIT_REFUSED


def register_steps(
    connection: Connection, version: str | None = None, response_type: str | None = None
) -> list[Step]:
    """Register every short code's URLs, each judged against what was registered before: Daraja's
    "already registered" keeps the first URLs, which are not this stack's after a token rotation
    or a new stack (tuma.services.daraja_urls)."""
    from datetime import UTC, datetime

    from tuma.services.daraja_setup import register as register_all
    from tuma.services.daraja_urls import reconcile

    steps = register_all(
        connection.client,
        connection.credentials,
        connection.urls,
        version=version or connection.settings["register_url_version"],
        response_type=response_type or connection.settings["response_type"],
    )
    if connection.records is None:
        return steps
    base = connection.found.webhook_base_url()
    return reconcile(steps, connection.urls, base, connection.records, datetime.now(UTC))


def url_problems(connection: Connection) -> dict[str, list[tuple[str, str]]]:
    """Each callback URL's breaches of Safaricom's URL rules (none: it may be registered)."""
    from tuma.services.daraja_setup import url_problems as problems_of

    urls = connection.urls
    named = (
        ("confirmation", urls.confirmation),
        ("validation", urls.validation),
        ("STK callback", urls.stk),
        ("status result", urls.status_result),
        ("pull", urls.pull),
    )
    local = connection.found.endpoint is not None
    found = {name: problems_of(url, connection.token, local=local) for name, url in named}
    return {name: problems for name, problems in found.items() if problems}


def _refuse(
    connection: Connection, problems: dict[str, list[tuple[str, str]]], json_out: bool, out: TextIO
) -> int:
    """Nothing is registered while a URL breaks Safaricom's rules: Daraja may take it and never call."""
    if json_out:
        document = {
            "ok": False,
            "refused": {
                name: [{"rule": rule, "fix": fix} for rule, fix in found] for name, found in problems.items()
            },
            "base_url": connection.found.webhook_base_url(),
        }
        print(json.dumps(document, indent=2), file=out)
        return EXIT_CONFIG
    print(f"Not registered: {connection.found.webhook_base_url()} breaks Safaricom's URL rules.", file=out)
    for name, found in problems.items():
        for rule, _ in found:
            print(f"  the {name} URL: {rule}", file=out)
    fixes = dict.fromkeys(fix for found in problems.values() for _, fix in found)
    for fix in fixes:
        print(f"fix: {fix}", file=out)
    return EXIT_CONFIG


def _registered(connection: Connection, steps: Sequence[Step], ok: bool) -> dict[str, Any]:
    return {
        "ok": ok,
        "steps": [
            {
                "short_code": s.short_code,
                "call": s.call,
                "outcome": s.result.outcome,
                "code": s.result.code,
                "daraja_said": s.result.description,
                "fix": s.result.fix,
            }
            for s in steps
        ],
        "stk_callback_url": _shown(connection.urls.stk, connection.token),
    }


def _print_registered(connection: Connection, steps: Sequence[Step], ok: bool, out: TextIO) -> None:
    print(f"{'SHORT CODE':<11} {'CALL':<16} {'RESULT':<19} DARAJA SAID", file=out)
    for step in steps:
        print(
            f"{step.short_code:<11} {step.call:<16} {step.result.outcome:<19} "
            f"{step.result.code or '-'} {step.result.description}",
            file=out,
        )
        if step.result.fix:
            print(f"{'':<48}fix: {step.result.fix}", file=out)
    print(file=out)
    print(
        "Use this CallBackURL in your STK Push requests (the token is in the Daraja callback secret):",
        file=out,
    )
    print(f"  {_shown(connection.urls.stk, connection.token)}", file=out)
    if ok:
        print(
            "Validation is off until Safaricom turns it on for your short code (apisupport@safaricom.co.ke).",
            file=out,
        )


def _shown(url: str, token: str) -> str:
    """URLs are printed with `{token}` in place of the token: a terminal's scroll-back is not a vault."""
    return url.replace(token, "{token}") if token else url


def status(connection: Connection, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from tuma.adapters.dynamodb_ledger_views import LedgerViews
    from tuma.adapters.ledger_table import PAYMENT_RECORD, STATUS_ANSWER_RECORD

    receipt = args.receipt.strip().upper()
    ledger = LedgerViews(connection.found.client("dynamodb"), connection.found.table("ledger"))
    before = ledger.record(receipt, STATUS_ANSWER_RECORD)
    payment = ledger.record(receipt, PAYMENT_RECORD) or {}
    short_code = _short_code(args, payment, connection.credentials.short_codes)
    if not short_code:
        codes = ", ".join(connection.credentials.short_codes)
        print(
            f"{receipt} is a payment Tuma never saw: say which short code it was paid to ({codes})", file=err
        )
        print("  with --short-code CODE", file=err)
        return EXIT_CONFIG
    from tuma.services.status_queries import StatusQueries

    asked = StatusQueries(connection.client, ledger).ask(receipt, short_code, connection.urls.status_result)
    answer = _answer(ledger, receipt, before, args.wait) if asked.ok and args.wait > 0 else None
    entries = ledger.get(receipt)
    if args.json:
        print(json.dumps(_status_document(receipt, asked, answer, entries), indent=2, default=str), file=out)
    else:
        _print_status(receipt, asked, answer, entries, out)
    if not asked.ok:
        return EXIT_REFUSED
    return EXIT_OK if answer is not None or args.wait == 0 else EXIT_REFUSED


def _short_code(args: argparse.Namespace, payment: Mapping[str, Any], codes: Sequence[str]) -> str:
    """The short code to ask about: the operator's, the payment's, or the only one there is ('': say)."""
    return str(args.short_code or payment.get("short_code") or (codes[0] if len(codes) == 1 else ""))


def _answer(
    ledger: LedgerViews, receipt: str, before: Mapping[str, Any] | None, wait: float
) -> dict[str, Any] | None:
    """M-Pesa's answer, once the status-result route has recorded a newer one than `before`."""
    from tuma.adapters.ledger_table import STATUS_ANSWER_RECORD

    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        record = ledger.record(receipt, STATUS_ANSWER_RECORD)
        if record and record.get("updated_at") != (before or {}).get("updated_at"):
            return record
        time.sleep(0.5)
    return None


def _status_document(
    receipt: str, asked: Registration, answer: Mapping[str, Any] | None, entries: Sequence[LedgerEntry]
) -> dict[str, Any]:
    return {
        "receipt": receipt,
        "asked": asked.outcome,
        "daraja_said": asked.description,
        "fix": asked.fix,
        "answer": None
        if answer is None
        else {k: answer.get(k) for k in ("result_code", "description", "transaction_status", "updated_at")},
        "receipt_status": [
            {"recipient": e.recipient, "status": e.status.value, "source": e.source} for e in entries
        ],
    }


def _print_status(
    receipt: str,
    asked: Registration,
    answer: Mapping[str, Any] | None,
    entries: Sequence[LedgerEntry],
    out: TextIO,
) -> None:
    print(f"{receipt}: asked M-Pesa ({asked.outcome}: {asked.description})", file=out)
    if asked.fix:
        print(f"  fix: {asked.fix}", file=out)
    if answer is not None:
        print(
            f"  M-Pesa says: {answer.get('transaction_status') or '-'} "
            f"({answer.get('result_code')}: {answer.get('description')})",
            file=out,
        )
    elif asked.ok:
        print("  no answer yet: it arrives at the status-result route; run this again later", file=out)
    for entry in entries:
        print(f"  receipt to {entry.recipient}: {entry.status.value} (learnt by {entry.source})", file=out)
