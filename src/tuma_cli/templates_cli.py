"""`tuma templates`: the business's own words, read and changed with the operator's AWS credentials.

Against a deployed stack (`--stack NAME`: the template store is one of its outputs), the running
`tuma local up` (`--local`), or the table named by TEMPLATES_TABLE. Every save goes through the same
checks as the console; a refusal exits 1 with the reasons on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from tuma.models.kinds import KINDS, TemplateError
from tuma.models.templates import Routing, StoredTemplate
from tuma.services.templates import Preview, TemplateEditor, Verdict

from tuma_cli import stack

EXIT_OK, EXIT_REFUSED, EXIT_CONFIG = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="templates_command", required=True)
    commands.add_parser("list", help="every template, its kind, language and version")
    commands.add_parser("kinds", help="the variables each kind of template may use")
    show = commands.add_parser("show", help="a template's text")
    show.add_argument("name")
    show.add_argument("--language", default="en")
    show.add_argument("--version", type=int)
    put = commands.add_parser("put", help="save a new version (checked first)")
    put.add_argument("name")
    put.add_argument("--language", required=True)
    text = put.add_mutually_exclusive_group(required=True)
    text.add_argument("--file", type=Path)
    text.add_argument("--text")
    put.add_argument("--kind", choices=sorted(KINDS), help="for a new template")
    put.add_argument("--note", help="why it changed, kept with the version")
    preview = commands.add_parser("preview", help="the SMS a template makes, its parts and its worst case")
    preview.add_argument("name")
    preview.add_argument("--language", default="en")
    preview.add_argument("--data", help="JSON data to fill it with (its kind's example otherwise)")
    unsaved = preview.add_mutually_exclusive_group()
    unsaved.add_argument("--file", type=Path, help="preview this text instead of the saved one")
    unsaved.add_argument("--text")
    history = commands.add_parser("history", help="every version of a template")
    history.add_argument("name")
    history.add_argument("--language", default="en")
    use = commands.add_parser("use", help="make an earlier version current again")
    use.add_argument("name")
    use.add_argument("--language", required=True)
    use.add_argument("--version", type=int, required=True)
    routing = commands.add_parser("routing", help="which receipt template a payment gets")
    routing_commands = routing.add_subparsers(dest="routing_command", required=True)
    routing_commands.add_parser("show")
    routing_commands.add_parser("history")
    routing_put = routing_commands.add_parser("put", help="save new rules (checked first)")
    rules = routing_put.add_mutually_exclusive_group(required=True)
    rules.add_argument("--file", type=Path)
    rules.add_argument("--text")
    routing_use = routing_commands.add_parser("use")
    routing_use.add_argument("--version", type=int, required=True)


def editor(args: argparse.Namespace) -> TemplateEditor:
    from tuma.adapters.dynamodb_templates import DynamoDBTemplates

    found = stack.locate(args)
    identity = {
        "business": os.environ.get("BUSINESS_NAME", ""),
        "business_contact": os.environ.get("BUSINESS_CONTACT", ""),
    }
    max_parts = int(os.environ.get("SMS_MAX_PARTS", "3"))
    store = DynamoDBTemplates(found.client("dynamodb"), found.table("templates"), cache_seconds=0)
    return TemplateEditor(store, max_parts=max_parts, identity=identity)


# -- commands -------------------------------------------------------------------------------------


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    from botocore.exceptions import BotoCoreError, ClientError
    from tuma.errors import Unavailable

    try:
        return _run(editor(args), args, out, err)
    except stack.Unconfigured as exc:
        print(f"configuration error: {exc}", file=err)
        return EXIT_CONFIG
    except (ClientError, BotoCoreError, Unavailable) as exc:
        print(f"AWS refused: {exc}", file=err)
        return EXIT_CONFIG
    except (KeyError, TemplateError, ValueError) as exc:
        print(f"refused: {exc.args[0] if exc.args else exc}", file=err)
        return EXIT_REFUSED


def _text(args: argparse.Namespace) -> str | None:
    if getattr(args, "file", None):
        return str(args.file.read_text(encoding="utf-8")).rstrip("\n")
    text: str | None = getattr(args, "text", None)
    return text


def _run(edit: TemplateEditor, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    command = COMMANDS.get(args.templates_command, _routing)
    return command(edit, args, out, err)


def _kinds(edit: TemplateEditor, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    kinds = {
        name: {"variables": list(k.variables), "must_show": list(k.must_show)} for name, k in KINDS.items()
    }
    lines = [
        f"{n}: {', '.join(k['variables'])} (must show {', '.join(k['must_show'])})" for n, k in kinds.items()
    ]
    _emit(args, out, kinds, "\n".join(lines))
    return EXIT_OK


def _put(edit: TemplateEditor, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    verdict, saved = edit.put(args.name, args.language, _text(args) or "", args.kind, args.note)
    return _verdict(args, out, err, verdict, saved)


def _preview_command(edit: TemplateEditor, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    data = json.loads(args.data) if args.data else None
    return _preview(args, out, err, edit.preview(args.name, args.language, data, _text(args)))


def _history(edit: TemplateEditor, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    versions = edit.history(args.name, args.language)
    lines = [f"v{t.version}  {t.saved_at}  {t.note or ''}  {t.text}" for t in versions]
    _emit(
        args,
        out,
        [_template_json(t) for t in versions],
        "\n".join(lines) or "no saved versions (the packaged text is in use)",
    )
    return EXIT_OK


def _use(edit: TemplateEditor, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    chosen = edit.use(args.name, args.language, args.version)
    _emit(
        args,
        out,
        _template_json(chosen),
        f"{args.name} ({args.language}) is back at version {chosen.version}",
    )
    return EXIT_OK


def _list(edit: TemplateEditor, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    catalog = edit.catalog()
    rows = [_template_json(t) for t in catalog.all()]
    lines = [
        f"{t['name']:<16} {t['language']:<3} {t['kind']:<11} v{t['version']}  {t['text'][:60]}" for t in rows
    ]
    _emit(args, out, rows, "\n".join(lines))
    return EXIT_OK


def _show(edit: TemplateEditor, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.version is not None:
        found = next((t for t in edit.history(args.name, args.language) if t.version == args.version), None)
    else:
        found = edit.current(args.name, args.language)
    if found is None:
        raise KeyError(
            f"no template {args.name!r} in {args.language}"
            + (f" at version {args.version}" if args.version else "")
        )
    _emit(args, out, _template_json(found), found.text)
    return EXIT_OK


def _routing(edit: TemplateEditor, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    command = args.routing_command
    if command == "show":
        routing = edit.catalog().routing
        _emit(args, out, _routing_json(routing), _routing_text(routing))
    elif command == "history":
        versions = edit.routing_history()
        _emit(
            args,
            out,
            [_routing_json(r) for r in versions],
            "\n\n".join(_routing_text(r) for r in versions) or "no routing saved",
        )
    elif command == "put":
        reasons, saved = edit.put_routing(json.loads(_text(args) or "[]"))
        if saved is None:
            for reason in reasons:
                print(f"refused: {reason}", file=err)
            return EXIT_REFUSED
        _emit(args, out, _routing_json(saved), f"saved as version {saved.version}")
    else:
        chosen = edit.use_routing(args.version)
        _emit(args, out, _routing_json(chosen), f"routing is back at version {chosen.version}")
    return EXIT_OK


def _verdict(
    args: argparse.Namespace, out: TextIO, err: TextIO, verdict: Verdict, saved: StoredTemplate | None
) -> int:
    if saved is None:
        for reason in verdict.reasons:
            print(f"refused: {reason}", file=err)
        if verdict.folded:
            print(f"its words after folding to GSM7: {verdict.folded}", file=err)
        return EXIT_REFUSED
    payload = _template_json(saved) | {"best_parts": verdict.best_parts, "worst_parts": verdict.worst_parts}
    lines = [
        f"saved {saved.name} ({saved.language}) as version {saved.version}: {verdict.best_parts} SMS part(s) at best, {verdict.worst_parts} at worst"
    ]
    if verdict.folded:
        lines.append(f"its words are sent folded to GSM7: {verdict.folded}")
    _emit(args, out, payload | {"folded": verdict.folded}, "\n".join(lines))
    return EXIT_OK


def _preview(args: argparse.Namespace, out: TextIO, err: TextIO, preview: Preview) -> int:
    verdict = preview.verdict
    payload = {
        "text": preview.text,
        "parts": preview.parts,
        "encoding": "GSM7",
        "septets": preview.septets,
        "best_parts": verdict.best_parts,
        "worst_parts": verdict.worst_parts,
        "problems": verdict.reasons,
    }
    lines = [preview.text, "", f"{preview.parts} SMS part(s), GSM7, {preview.septets} characters"]
    if verdict.worst_parts is not None:
        lines.append(f"worst case (longest names and amounts): {verdict.worst_parts} part(s)")
    lines += [f"would be refused: {reason}" for reason in verdict.reasons]
    _emit(args, out, payload, "\n".join(lines))
    return EXIT_OK if verdict.ok else EXIT_REFUSED


def _template_json(t: StoredTemplate) -> dict[str, Any]:
    return {
        "name": t.name,
        "language": t.language,
        "kind": t.kind,
        "version": t.version,
        "text": t.text,
        "saved_at": t.saved_at,
        "note": t.note,
    }


def _routing_json(routing: Routing) -> dict[str, Any]:
    return {
        "version": routing.version,
        "rules": [{k: v for k, v in vars(r).items() if v is not None} for r in routing.rules],
    }


def _routing_text(routing: Routing) -> str:
    if not routing.rules:
        return f"v{routing.version}: no rules: every receipt uses the template `receipt`"
    rules = [
        f"  {r.source or 'any source'} / {r.short_code or 'any paybill'} -> {r.template} ({r.language or 'default language'})"
        for r in routing.rules
    ]
    return f"v{routing.version}:\n" + "\n".join(rules)


def _emit(args: argparse.Namespace, out: TextIO, payload: Any, text: str) -> None:
    print(json.dumps(payload, ensure_ascii=False) if args.json else text, file=out)


Command = Callable[[TemplateEditor, argparse.Namespace, TextIO, TextIO], int]
COMMANDS: dict[str, Command] = {
    "list": _list,
    "kinds": _kinds,
    "show": _show,
    "put": _put,
    "preview": _preview_command,
    "history": _history,
    "use": _use,
}
