"""`tuma trace` and `tuma cancel`: a message's story for an operator, and withdrawing a scheduled one.

Searched by idempotency key (an M-Pesa receipt number is the key of its receipt) or by a phone number
typed in full; numbers are shown masked.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from tuma.formatting.phones import InvalidNumber, parse_recipient
from tuma.models.ledger import CancelOutcome, LedgerEntry
from tuma.services.lookup import by_number, keys_for, story

from tuma_cli import stack

if TYPE_CHECKING:
    from collections.abc import Callable

    from tuma.adapters.dynamodb_agenda import DynamoDBAgenda
    from tuma.adapters.dynamodb_ledger import DynamoDBLedger
    from tuma.security.number_keys import NumberKeys

EXIT_OK, EXIT_NOT_FOUND, EXIT_CONFIG = 0, 1, 2


def add_trace_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", help="an idempotency key, an M-Pesa receipt number, or a phone number")


def add_cancel_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", help="the idempotency key of the scheduled message")


def _ledger(args: argparse.Namespace) -> tuple[DynamoDBLedger, Callable[[], NumberKeys]]:
    """The stack's ledger, and its numbers' keyed hashes (the privacy key read only for a number)."""
    from tuma.adapters.dynamodb_ledger import DynamoDBLedger

    from tuma_cli.privacy_cli import number_keys_of

    found = stack.locate(args)
    return DynamoDBLedger(found.client("dynamodb"), found.table("ledger")), lambda: number_keys_of(found)


def _agenda(args: argparse.Namespace) -> DynamoDBAgenda:
    from tuma.adapters.dynamodb_agenda import DynamoDBAgenda

    found = stack.locate(args)
    return DynamoDBAgenda(found.client("dynamodb"), found.table("ledger"))


def find(ledger: DynamoDBLedger, query: str, keys: Callable[[], NumberKeys]) -> list[LedgerEntry]:
    """By key (as typed, then upper-cased as receipt numbers are), else by phone number."""
    for key in keys_for(query):
        entries: list[LedgerEntry] = ledger.get(key)
        if entries:
            return entries
    try:
        recipient = parse_recipient(query)
    except InvalidNumber:
        return []
    return by_number(ledger.by_recipient, keys(), recipient)


def trace(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        ledger, keys = _ledger(args)
        entries = find(ledger, args.query, keys)
    except stack.Unconfigured as exc:
        print(f"configuration error: {exc}", file=err)
        return EXIT_CONFIG
    if not entries:
        print("nothing found under that key or number", file=err)
        return EXIT_NOT_FOUND
    views = story(entries, with_text=True)
    for view in sorted(views, key=lambda v: v["updated_at"] or "", reverse=True):
        if args.json:
            print(json.dumps(view, ensure_ascii=False), file=out)
        else:
            _print_story(view, out)
    return EXIT_OK


def _print_story(view: dict[str, Any], out: TextIO) -> None:
    print(f"{view['idempotency_key']}  to {view['recipient']}  {view['status']}", file=out)
    steps = [
        ("scheduled for", view["scheduled_for"]),
        ("queued", view["queued_at"]),
        ("sent", view["sent_at"] and f"{view['sent_at']} as {view['provider_message_id']}"),
        ("final", view["final_at"] and f"{view['final_at']} by {view['final_via']}"),
    ]
    steps += [
        (label.replace("_", " "), view.get(label))
        for label in ("source", "delivery_status", "reason", "parts", "text")
    ]
    for label, value in steps:
        if value:
            print(f"  {label:<14} {value}", file=out)


def cancel(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        outcome = _agenda(args).cancel(args.key)
    except stack.Unconfigured as exc:
        print(f"configuration error: {exc}", file=err)
        return EXIT_CONFIG
    print(
        json.dumps({"idempotency_key": args.key, "result": outcome.value})
        if args.json
        else f"{args.key}: {outcome.value}",
        file=out,
    )
    return EXIT_OK if outcome is CancelOutcome.CANCELLED else EXIT_NOT_FOUND
