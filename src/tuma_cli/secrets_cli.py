"""`tuma secrets rotate daraja|provider|status`: a new path token for a caller that cannot sign, or a
new Standard Webhooks secret for the status events Tuma signs.

The new token takes over at once; the previous one (and the stack's first token, while it was still
accepted) stays accepted for `--grace` hours, so that the caller is moved to the new URL without a
lost callback. For Daraja the URLs are registered again where Daraja allows it (`tuma daraja
register`); production answers "already registered" to a second registration, and then this says
what to ask Safaricom for. URLs are printed with `{token}` in place of the token, with the command
that reads it: a terminal's scroll-back is not a vault.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

from tuma_cli import stack

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tuma.models.callback_tokens import CallbackToken
    from tuma.services.daraja_setup import Step

EXIT_OK, EXIT_REFUSED, EXIT_CONFIG = 0, 1, 2
# Daraja's production registrations change only through Safaricom: give them days, not hours.
DEFAULT_GRACE_HOURS = {"daraja": 72.0, "provider": 24.0, "status": 24.0}
# The secret each rotates (tuma_cli.stack.SECRETS).
SECRET_NAMES = {"daraja": "daraja_callback", "provider": "provider_callback", "status": "status_webhook"}
ROUTES = {
    "daraja": (
        ("C2B confirmation", "/payments/c2b/confirmation/{token}"),
        ("C2B validation", "/payments/c2b/validation/{token}"),
        ("STK Push CallBackURL", "/payments/stk/{token}"),
        ("Transaction Status ResultURL", "/payments/status-results/{token}"),
    ),
    "provider": (
        ("delivery reports (primary provider's portal)", "/delivery-reports/{token}"),
        ("delivery reports (secondary provider's portal)", "/delivery-reports/{token}?provider=secondary"),
    ),
    "status": (),  # Tuma calls the receiver: nothing to re-register, the receiver takes the secret
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="secrets_command", required=True)
    rotate = commands.add_parser(
        "rotate",
        help="a new path token for Daraja's or the provider's callbacks, or the status events' secret",
    )
    rotate.add_argument("caller", choices=("daraja", "provider", "status"))
    rotate.add_argument(
        "--grace",
        type=float,
        help="hours the previous token stays accepted (default: 72 for daraja, 24 for provider)",
    )


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        found = stack.locate(args)
        hours = args.grace if args.grace is not None else DEFAULT_GRACE_HOURS[args.caller]
        if hours < 0:
            print("configuration error: --grace is hours, 0 or more", file=err)
            return EXIT_CONFIG
        rotated = rotate(found, args.caller, timedelta(hours=hours))
        registered = _register_daraja(found) if args.caller == "daraja" else None
    except stack.Unconfigured as exc:
        print(f"configuration error: {exc}", file=err)
        return EXIT_CONFIG
    document = _document(found, args.caller, rotated, registered)
    if args.json:
        print(json.dumps(document, indent=2), file=out)
    else:
        _print(document, out)
    return EXIT_OK if registered is None or registered["ok"] else EXIT_REFUSED


def rotate(found: stack.Stack, caller: str, grace: timedelta) -> CallbackToken:
    """The caller's secret, rotated and stored."""
    from pydantic import ValidationError
    from tuma.models.callback_tokens import CallbackToken

    name = SECRET_NAMES[caller]
    try:
        current = CallbackToken.model_validate(found.secret(name))
    except ValidationError:
        raise stack.Unconfigured(f"the {name} secret holds no token of 32+ characters") from None
    legacy = str(found.secret("webhook").get("path_token") or "") if current.legacy else None
    # Standard Webhooks secrets are base64 (32 random bytes); path tokens must be URL-safe.
    new = (
        base64.b64encode(secrets.token_bytes(32)).decode()
        if caller == "status"
        else secrets.token_urlsafe(36)
    )
    rotated = current.rotated(new, datetime.now(UTC), grace, legacy)
    found.put_secret(name, rotated.stored())
    return rotated


def _register_daraja(found: stack.Stack) -> dict[str, Any]:
    """Register the new URLs with Daraja, where it allows a second registration."""
    from tuma.models.daraja import DarajaFailure

    from tuma_cli import daraja_cli

    try:
        connection = daraja_cli.connect(found)
    except stack.Unconfigured as exc:
        return {"ok": False, "steps": [], "note": f"not registered: {exc}"}
    refused = _breaks_the_rules(connection)
    if refused is not None:
        return refused
    try:
        steps = daraja_cli.register_steps(connection)
    except DarajaFailure as failure:
        return {"ok": False, "steps": [], "note": f"Daraja: {failure.description}"}
    return _registration(steps)


def _registration(steps: Sequence[Step]) -> dict[str, Any]:
    """What Daraja did with each short code, and what to ask Safaricom when it kept the old URLs
    (the new token's URLs cannot have been registered before: "already registered" keeps old ones)."""
    kept = [s for s in steps if "already registered" in f"{s.result.outcome} {s.result.description}".lower()]
    note = _kept_note(kept) if kept else None
    return {
        "ok": all(s.result.ok for s in steps) and not kept,
        "steps": [
            {
                "short_code": s.short_code,
                "call": s.call,
                "outcome": s.result.outcome,
                "daraja_said": s.result.description,
            }
            for s in steps
        ],
        "note": note,
    }


def _kept_note(kept: Sequence[Step]) -> str:
    fix = next((s.result.fix for s in kept if s.result.fix), None) or (
        "ask Safaricom (apisupport@safaricom.co.ke) to delete the URLs registered for short code "
        f"{', '.join(sorted({s.short_code for s in kept}))}, then run `tuma daraja register`"
    )
    return (
        f"Daraja kept the URLs it had (a production registration is one-time). {fix} "
        "Do it before the previous token's grace ends."
    )


def _breaks_the_rules(connection: Any) -> dict[str, Any] | None:
    """Not registered while a URL breaks Safaricom's rules (tuma daraja register says the same)."""
    from tuma_cli import daraja_cli

    problems = daraja_cli.url_problems(connection)
    if not problems:
        return None
    rules = "; ".join(f"the {name} URL: {rule}" for name, found in problems.items() for rule, _ in found)
    fix = next(fix for found in problems.values() for _, fix in found)
    return {"ok": False, "steps": [], "note": f"not registered: {rules}. Fix: {fix}"}


def _document(
    found: stack.Stack, caller: str, rotated: CallbackToken, registered: dict[str, Any] | None
) -> dict[str, Any]:
    base = found.webhook_base_url()
    return {
        "caller": caller,
        "urls": {name: base + path for name, path in ROUTES[caller]},
        "previous_accepted_until": _until(rotated),
        "read_the_token": (
            f"aws secretsmanager get-secret-value --secret-id {found.secret_id(SECRET_NAMES[caller])} "
            "--query SecretString --output text"
        ),
        "daraja_registration": registered,
    }


def _until(rotated: CallbackToken) -> str | None:
    latest = max((old.until for old in rotated.previous), default=None)
    return None if latest is None else latest.astimezone(UTC).isoformat(timespec="minutes")


def _print(document: dict[str, Any], out: TextIO) -> None:
    until = document["previous_accepted_until"]
    if document["caller"] == "status":
        print("New status events signing secret stored (Standard Webhooks).", file=out)
        if until is not None:
            print(
                f"Until {until} (UTC) each event carries both signatures: give the receiver the new", file=out
            )
            print("secret (the token below) before then.", file=out)
    else:
        print(f"New {document['caller']} token stored.", file=out)
        if until is not None:
            print(f"The previous token is accepted until {until} (UTC).", file=out)
        print("Give the caller these URLs ({token} is the new token):", file=out)
        for name, url in document["urls"].items():
            print(f"  {name}: {url}", file=out)
    print(f"Read the token: {document['read_the_token']}", file=out)
    registered = document["daraja_registration"]
    if registered is not None:
        for step in registered["steps"]:
            print(
                f"  Daraja {step['call']} ({step['short_code']}): {step['outcome']} ({step['daraja_said']})",
                file=out,
            )
        if registered["note"]:
            print(registered["note"], file=out)
