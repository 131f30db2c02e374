"""`tuma keys create | list | rotate | revoke`: the business's API keys, each worth only its scopes.

A key is made for one holder (the till, the monitoring tool) with the scopes it needs; its secret
is printed once, at creation, and lives only in the stack's API keys secret. Rotation makes a new
key with the same scopes and lets the old one live for `--grace` hours, so that the holder moves
to the new one before the old one stops working; revocation removes a key (the webhooks function
reads the set again within CREDENTIALS_CACHE_SECONDS, five minutes by default).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

from tuma_cli import stack

if TYPE_CHECKING:
    from tuma.models.api_keys import ApiKey, Scope

EXIT_OK, EXIT_REFUSED, EXIT_CONFIG = 0, 1, 2
KEY_SET = "api_keys"  # the stack secret (tuma_cli.stack.SECRETS)
CACHE_MINUTES = 5  # the webhooks function's CREDENTIALS_CACHE_SECONDS, by default


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tuma.models.api_keys import Scope

    commands = parser.add_subparsers(dest="keys_command", required=True)
    create = commands.add_parser("create", help="a new key with the scopes its holder needs")
    create.add_argument(
        "--scope", action="append", required=True, choices=[s.value for s in Scope], help="repeat for several"
    )
    create.add_argument("--name", default="", help="who holds it: 'shop till', 'Grafana alerts'")
    create.add_argument("--expires-in-days", type=float, help="the key stops working after this many days")
    commands.add_parser("list", help="the keys, their scopes and expiry (never their secrets)")
    rotate = commands.add_parser(
        "rotate", help="a new key for the same holder; the old one lives --grace hours"
    )
    rotate.add_argument("key_id")
    rotate.add_argument(
        "--grace", type=float, default=24.0, help="hours the old key keeps working (default 24)"
    )
    revoke = commands.add_parser("revoke", help="the key stops working (within 5 minutes)")
    revoke.add_argument("key_id")


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        found = stack.locate(args)
        document = _ACTIONS[args.keys_command](found, args)
    except stack.Unconfigured as exc:
        print(f"configuration error: {exc}", file=err)
        return EXIT_CONFIG
    except LookupError as exc:
        print(str(exc.args[0]), file=err)
        return EXIT_REFUSED
    if args.json:
        print(json.dumps(document, indent=2), file=out)
    else:
        print(_text(args.keys_command, document), file=out)
    return EXIT_OK


# -- the key set ---------------------------------------------------------------------------------


def new_key(scopes: set[Scope], name: str = "", expires_at: datetime | None = None) -> ApiKey:
    from pydantic import SecretStr
    from tuma.models.api_keys import ApiKey

    return ApiKey(
        id="tk_" + secrets.token_hex(6),
        secret=SecretStr(secrets.token_urlsafe(32)),
        scopes=frozenset(scopes),
        created_at=datetime.now(UTC).replace(microsecond=0),
        expires_at=expires_at,
        name=name,
    )


def stored(key: ApiKey) -> dict[str, Any]:
    """A key as the secret holds it (with its secret)."""
    return key.public() | {"secret": key.secret.get_secret_value()}


def add_key(found: stack.Stack, key: ApiKey) -> None:
    keys = _raw(found)
    found.put_secret(KEY_SET, {"keys": [*keys, stored(key)]})


def _raw(found: stack.Stack) -> list[dict[str, Any]]:
    keys = found.secret(KEY_SET).get("keys", [])
    if not isinstance(keys, list):
        raise stack.Unconfigured(f"the API keys secret ({found.secret_id(KEY_SET)}) holds no list of keys")
    return [k for k in keys if isinstance(k, dict)]


def _keys(found: stack.Stack) -> list[ApiKey]:
    from pydantic import ValidationError
    from tuma.models.api_keys import ApiKey

    read = []
    for raw in _raw(found):
        try:
            read.append(ApiKey.model_validate(raw))
        except ValidationError:
            continue  # listed by id as unreadable below; never printed whole
    return read


def _one(found: stack.Stack, key_id: str) -> ApiKey:
    key = next((k for k in _keys(found) if k.id == key_id), None)
    if key is None:
        raise LookupError(f"no API key {key_id} (tuma keys list shows them)")
    return key


# -- the actions ----------------------------------------------------------------------------------


def _create(found: stack.Stack, args: argparse.Namespace) -> dict[str, Any]:
    from tuma.models.api_keys import Scope

    days = args.expires_in_days
    expires = None if days is None else datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    key = new_key({Scope(s) for s in args.scope}, args.name, expires)
    add_key(found, key)
    return {"key": stored(key), "api": found.webhook_base_url()}


def _list(found: stack.Stack, args: argparse.Namespace) -> dict[str, Any]:
    now = datetime.now(UTC)
    keys = _keys(found)
    unreadable = [str(k.get("id", "?")) for k in _raw(found) if k.get("id") not in {key.id for key in keys}]
    return {
        "keys": [key.public() | {"live": key.live(now)} for key in keys],
        "unreadable": unreadable,
    }


def _rotate(found: stack.Stack, args: argparse.Namespace) -> dict[str, Any]:
    old = _one(found, args.key_id)
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=max(0.0, args.grace))
    if old.expires_at is not None:
        until = min(until, old.expires_at)
    new = new_key(set(old.scopes), old.name, None)
    keys = [
        stored(k.model_copy(update={"expires_at": until})) if k.id == old.id else stored(k)
        for k in _keys(found)
    ]
    found.put_secret(KEY_SET, {"keys": [*keys, stored(new)]})
    return {"key": stored(new), "previous": old.id, "previous_works_until": until.isoformat()}


def _revoke(found: stack.Stack, args: argparse.Namespace) -> dict[str, Any]:
    old = _one(found, args.key_id)
    found.put_secret(KEY_SET, {"keys": [k for k in _raw(found) if k.get("id") != old.id]})
    return {"revoked": old.id, "stops_working_within_minutes": CACHE_MINUTES}


_ACTIONS = {"create": _create, "list": _list, "rotate": _rotate, "revoke": _revoke}


def _text(action: str, document: dict[str, Any]) -> str:
    if action == "list":
        lines = [
            f"{k['id']}  {','.join(k['scopes']):<40} {k['name'] or '-':<20} "
            f"{'expires ' + k['expires_at'] if k['expires_at'] else 'no expiry'}{'' if k['live'] else ' (expired)'}"
            for k in document["keys"]
        ]
        lines += [
            f"{key_id}  unreadable: fix or remove it in the API keys secret"
            for key_id in document["unreadable"]
        ]
        return "\n".join(lines) or "No API keys yet: tuma keys create --scope payments --name 'shop till'"
    if action == "revoke":
        return f"Revoked {document['revoked']}: it stops working within {CACHE_MINUTES} minutes."
    key = document["key"]
    lines = [
        f"API key {key['id']} ({', '.join(key['scopes'])})",
        f"  secret: {key['secret']}",
        "  Shown once: put it in the holder's secret store now.",
        "  Sign each request with RFC 9421 (hmac-sha256, keyid the id above): README, 'Calling Tuma's API'.",
    ]
    if action == "rotate":
        lines += [
            f"Change the holder of {document['previous']} to {key['id']} and the secret above;",
            f"{document['previous']} keeps working until {document['previous_works_until']} (UTC), then stops.",
        ]
    return "\n".join(lines)
