"""`tuma suppress add|remove|list|check`, `tuma consent add|remove|list`: the people's wishes; and
`tuma privacy export|erase|log`: one person's access and erasure requests.

A number may be typed in any Kenyan form, or as Safaricom's hash of it; what is printed is masked.
The privacy table keeps neither: only the number's keyed hash (tuma.security.number_keys).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from tuma_cli import stack

if TYPE_CHECKING:
    from tuma.models.privacy import MessageCategory
    from tuma.models.privacy_records import PrivacyRecord
    from tuma.ports import AuditLog, PersonalRecords
    from tuma.security.number_keys import NumberKeys
    from tuma.services.personal_data import PersonalData
    from tuma.services.privacy import Person, Privacy

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
SCOPES = ("promotional", "all")


def add_suppress_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="suppress_command", required=True)
    add = commands.add_parser("add", help="stop messages to a number (promotions only, unless --scope all)")
    add.add_argument("number")
    add.add_argument("--scope", choices=SCOPES, default="promotional")
    add.add_argument("--reason", default="asked to stop")
    remove = commands.add_parser("remove", help="send to a number again (every scope, unless --scope)")
    remove.add_argument("number")
    remove.add_argument("--scope", choices=SCOPES)
    listing = commands.add_parser("list", help="every suppressed number (masked), newest first")
    listing.add_argument("number", nargs="?", help="only this number")
    check = commands.add_parser("check", help="would a message to this number go?")
    check.add_argument("number")


def add_consent_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="consent_command", required=True)
    add = commands.add_parser("add", help="record that a customer agreed to promotional messages")
    add.add_argument("number")
    add.add_argument("--source", default="operator", help="where they agreed: shop counter, web form...")
    add.add_argument("--wording", required=True, help="what they agreed to, as they saw it")
    remove = commands.add_parser("remove", help="the customer withdrew their consent")
    remove.add_argument("number")
    listing = commands.add_parser("list", help="every consent on record (masked), newest first")
    listing.add_argument("number", nargs="?", help="only this number")


def add_privacy_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="privacy_command", required=True)
    export = commands.add_parser("export", help="everything kept about a number, as one JSON document")
    export.add_argument("number")
    export.add_argument("--reference", default="", help="your request's reference, for the audit log")
    erase = commands.add_parser("erase", help="remove or anonymise everything about a number")
    erase.add_argument("number")
    erase.add_argument("--reference", default="", help="your request's reference, for the audit log")
    commands.add_parser("log", help="the access and erasure requests carried out (no numbers)")


def personal_data_of(found: stack.Stack) -> tuple[PersonalData, AuditLog]:
    """Every table that can hold something about a person, read with the operator's credentials."""
    from tuma.adapters import dynamodb_personal as personal
    from tuma.adapters import dynamodb_personal_ledger as personal_ledger
    from tuma.services.personal_data import PersonalData

    client = found.client("dynamodb")
    stores: list[PersonalRecords] = [
        personal.PrivacyPersonalRecords(client, found.table("privacy")),
        personal.StatePersonalRecords(client, found.table("state")),
        personal.ClaimsPersonalRecords(client, found.table("claims")),
    ]
    # The business's own tables, when the stack has them: a row is theirs by any attribute
    # holding the number. A directory entry goes whole; a payment keeps all but the number and name.
    if "customers" in found.tables:
        stores.append(
            personal.DirectoryPersonalRecords(
                client, found.table("customers"), "customers", ("account",), delete_rows=True
            )
        )
    if "payments" in found.tables:
        stores.append(
            personal.DirectoryPersonalRecords(
                client,
                found.table("payments"),
                "payments",
                ("payment_id",),
                delete_rows=False,
                also=("name",),
            )
        )
    audit = personal.DynamoDBAuditLog(client, found.table("state"))
    ledger = personal_ledger.LedgerPersonalRecords(client, found.table("ledger"))
    return PersonalData(ledger, stores, number_keys_of(found), audit), audit


def number_keys_of(found: stack.Stack) -> NumberKeys:
    """The stack's keyed hash of numbers, its key read with the operator's credentials when needed;
    also this process's names for numbers (a command serves one stack)."""
    from tuma.security.number_keys import NumberKeys, use

    def key() -> bytes:
        value = found.secret("privacy").get("number_key")
        if not isinstance(value, str) or len(value) < 32:
            raise stack.Unconfigured("the privacy secret has no number_key")
        return value.encode()

    return use(NumberKeys(key))


def privacy_of(found: stack.Stack) -> Privacy:
    """The stack's suppression list and consent record, read with the operator's credentials."""
    from tuma.adapters.dynamodb_privacy import DynamoDBPrivacyStore
    from tuma.services.privacy import Privacy

    return Privacy(
        DynamoDBPrivacyStore(found.client("dynamodb"), found.table("privacy")), number_keys_of(found)
    )


def record_json(record: PrivacyRecord) -> dict[str, Any]:
    return {
        "number": record.masked,
        "suppressed": {
            scope.value: {"since": s.at.isoformat(), "source": s.source, "reason": s.reason}
            for scope, s in record.suppressions.items()
        },
        "consent": None
        if record.consent is None
        else {
            "since": record.consent.at.isoformat(),
            "source": record.consent.source,
            "wording": record.consent.wording,
        },
    }


@dataclass
class _Out:
    args: argparse.Namespace
    out: TextIO

    def say(self, data: Any, text: str) -> int:
        print(json.dumps(data, indent=2) if self.args.json else text, file=self.out)
        return EXIT_OK


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    from botocore.exceptions import BotoCoreError, ClientError
    from tuma.errors import ConfigurationError, Unavailable
    from tuma.services.privacy import InvalidEntry

    try:
        found = stack.locate(args)
        if args.command == "privacy":
            return _privacy(found, args, _Out(args, out))
        privacy = privacy_of(found)
        if args.command == "suppress":
            return _suppress(privacy, args, _Out(args, out))
        return _consent(privacy, args, _Out(args, out))
    except InvalidEntry as exc:
        print(f"invalid {exc.field}: {exc.reason}", file=err)
        return EXIT_FAILED
    except (stack.Unconfigured, ConfigurationError) as exc:
        print(f"configuration error: {exc}", file=err)
        return EXIT_CONFIG
    except (ClientError, BotoCoreError, Unavailable) as exc:
        print(f"AWS refused: {type(exc).__name__}", file=err)
        return EXIT_CONFIG


def _suppress(privacy: Privacy, args: argparse.Namespace, out: _Out) -> int:
    if args.suppress_command == "list":
        records = _listed(privacy, args.number, lambda r: bool(r.suppressions))
        lines = [
            f"{r.masked:<16} {scope.value:<12} since {s.at:%Y-%m-%d %H:%M} ({s.source}): {s.reason}"
            for r in records
            for scope, s in r.suppressions.items()
        ]
        return out.say([record_json(r) for r in records], "\n".join(lines) or "no suppressed numbers")
    person = privacy.person(args.number)
    act = {"add": _suppress_add, "remove": _suppress_remove}.get(args.suppress_command, _suppress_check)
    return act(privacy, person, args, out)


def _suppress_add(privacy: Privacy, person: Person, args: argparse.Namespace, out: _Out) -> int:
    from tuma.models.privacy import Scope, SuppressionSource

    added = privacy.suppress(person, Scope(args.scope), args.reason, SuppressionSource.OPERATOR)
    what = "every message" if args.scope == "all" else "promotional messages"
    text = (
        f"{person.masked}: suppressed for {what}"
        if added
        else f"{person.masked}: already suppressed ({args.scope})"
    )
    return out.say({"number": person.masked, "scope": args.scope, "added": added}, text)


def _suppress_remove(privacy: Privacy, person: Person, args: argparse.Namespace, out: _Out) -> int:
    from tuma.models.privacy import Scope

    removed = privacy.unsuppress(person, Scope(args.scope) if args.scope else None)
    text = (
        f"{person.masked}: no longer suppressed ({', '.join(removed)})"
        if removed
        else f"{person.masked}: was not suppressed"
    )
    return out.say({"number": person.masked, "removed": [s.value for s in removed]}, text)


def _suppress_check(privacy: Privacy, person: Person, args: argparse.Namespace, out: _Out) -> int:
    from tuma.models.privacy import MessageCategory

    record = privacy.check(person)
    verdicts = {category.value: _verdict(record, category) for category in MessageCategory}
    text = "\n".join([person.masked, *(f"  {c:<14} {v}" for c, v in verdicts.items())])
    return out.say(record_json(record) | {"verdicts": verdicts}, text)


def _verdict(record: PrivacyRecord, category: MessageCategory) -> str:
    """What becomes of a message of `category` to this number."""
    from tuma.models.privacy import MessageCategory

    suppression = record.suppression_for(category)
    if suppression is not None:
        return f"SUPPRESSED since {suppression.at:%Y-%m-%d} ({suppression.source})"
    if category is MessageCategory.PROMOTIONAL and record.consent is None:
        return "refused: no consent on record"
    return "goes"


def _consent(privacy: Privacy, args: argparse.Namespace, out: _Out) -> int:
    command = args.consent_command
    if command == "list":
        records = _listed(privacy, args.number, lambda r: r.consent is not None)
        lines = [
            f"{r.masked:<16} since {r.consent.at:%Y-%m-%d %H:%M} ({r.consent.source}): {r.consent.wording}"
            for r in records
            if r.consent is not None
        ]
        return out.say([record_json(r) for r in records], "\n".join(lines) or "no consents on record")
    person = privacy.person(args.number)
    if command == "add":
        privacy.consent(person, args.source, args.wording)
        return out.say(
            {"number": person.masked, "source": args.source, "consented": True},
            f"{person.masked}: consent recorded ({args.source})",
        )
    withdrawn = privacy.withdraw(person)
    text = (
        f"{person.masked}: consent withdrawn" if withdrawn else f"{person.masked}: had no consent on record"
    )
    return out.say({"number": person.masked, "withdrawn": withdrawn}, text)


def _listed(privacy: Privacy, number: str | None, keep: Any) -> list[PrivacyRecord]:
    if number:
        record = privacy.check(privacy.person(number))
        return [record] if keep(record) else []
    return [r for r in privacy.everything() if keep(r)]


def _privacy(found: stack.Stack, args: argparse.Namespace, out: _Out) -> int:
    personal, audit = personal_data_of(found)
    command = args.privacy_command
    if command == "log":
        rows = audit.entries()
        lines = [f"{r['at']}  {r['action']:<7} {r.get('reference') or '-'}  {_counts(r)}" for r in rows]
        return out.say(rows, "\n".join(lines) or "no access or erasure requests yet")
    subject = personal.subject(args.number)
    if command == "export":
        # Always JSON: the document is what the person is given.
        print(
            json.dumps(personal.export(subject, args.reference), indent=2, ensure_ascii=False), file=out.out
        )
        return EXIT_OK
    erasure = personal.erase(subject, args.reference)
    lines = [f"{subject.masked}: erased ({erasure.total} records changed)"]
    lines += [
        f"  {store:<10} {what}: {count}"
        for store, counts in erasure.changed.items()
        for what, count in counts.items()
    ]
    lines.append("  kept: the receipts' claims, and each message's status, parts and times, under no number")
    return out.say({"subject": subject.masked, **erasure.document()}, "\n".join(lines))


def _counts(row: dict[str, Any]) -> str:
    figures = row.get("changed") or row.get("found") or {}
    parts = [
        f"{store} {sum(v.values()) if isinstance(v, dict) else v}"
        for store, v in figures.items()
        if (sum(v.values()) if isinstance(v, dict) else v)
    ]
    return ", ".join(parts) or "nothing"
