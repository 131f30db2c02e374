"""`tuma caps show|set` and `tuma pause|resume`: the guards' switches, without a redeploy.

The caps the stack was deployed with (DailyPartsCap, ReceiptDailyPartsCap, MonthlyPartsCap) hold
until an operator sets others here; they are kept in the state table, where every sender reads them
with its next batch. A pause holds messages (all, or one category) until resumed: nothing is lost,
and each goes once.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from tuma_cli import stack

EXIT_OK, EXIT_CONFIG = 0, 2
CATEGORIES = ("receipt", "code", "alert", "message")
# Parameter of the stack -> the caps document's name for it.
CAP_PARAMETERS = {
    "DailyPartsCap": "daily_parts",
    "ReceiptDailyPartsCap": "receipt_daily_parts",
    "MonthlyPartsCap": "monthly_parts",
}


def add_caps_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="caps_command", required=True)
    commands.add_parser("show", help="the caps, today's and this month's parts, and any pause")
    set_ = commands.add_parser("set", help="change the caps now (0: no cap)")
    set_.add_argument("--daily-parts", type=int)
    set_.add_argument("--receipt-daily-parts", type=int)
    set_.add_argument("--monthly-parts", type=int)


def add_pause_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--category", choices=CATEGORIES, help="only this kind of message (default: everything)"
    )


@dataclass
class Switches:
    found: stack.Stack

    def store(self) -> Any:
        from tuma.adapters.dynamodb_state import DynamoDBGuardStore

        return DynamoDBGuardStore(self.found.client("dynamodb"), self.found.table("state"))

    def deployed_caps(self) -> dict[str, int]:
        caps = {}
        for parameter, name in CAP_PARAMETERS.items():
            try:
                caps[name] = int(self.found.parameters.get(parameter, "0") or 0)
            except ValueError:
                caps[name] = 0
        return caps

    def show(self) -> dict[str, Any]:
        from tuma.services.guards import CAPS, PAUSE, day_of, month_of, usage_name

        now = datetime.now(UTC)
        day, month = day_of(now), month_of(now)
        names = [CAPS, PAUSE] + [usage_name(p, c) for p in (day, month) for c in ("receipt", "other")]
        documents = self.store().read_many(names)
        overrides = {k: v for k, v in documents.get(CAPS, {}).items() if k in CAP_PARAMETERS.values()}

        def used(period: str, counter: str) -> int:
            return int(documents.get(usage_name(period, counter), {}).get("count", 0))

        return {
            "caps": self.deployed_caps() | overrides,
            "set_by_operator": sorted(overrides),
            "today": {"day": day, "receipt_parts": used(day, "receipt"), "other_parts": used(day, "other")},
            "this_month": {
                "month": month,
                "receipt_parts": used(month, "receipt"),
                "other_parts": used(month, "other"),
            },
            "paused": documents.get(PAUSE, {}).get("categories", []),
        }

    def set_caps(self, changes: dict[str, int]) -> dict[str, Any]:
        from tuma.services.guards import CAPS

        store = self.store()
        current = store.read_many([CAPS]).get(CAPS, {})
        store.write(CAPS, current | changes | {"set_at": datetime.now(UTC).isoformat()})
        return self.show()

    def pause(self, category: str | None) -> list[str]:
        from tuma.services.guards import PAUSE

        store = self.store()
        current = store.read_many([PAUSE]).get(PAUSE, {})
        categories = sorted(set(current.get("categories", [])) | {category or "all"})
        store.write(PAUSE, {"categories": categories, "since": datetime.now(UTC).isoformat()})
        return categories

    def resume(self, category: str | None) -> list[str]:
        from tuma.services.guards import PAUSE

        store = self.store()
        current = store.read_many([PAUSE]).get(PAUSE, {})
        categories = [] if category is None else sorted(set(current.get("categories", [])) - {category})
        store.write(PAUSE, {"categories": categories, "since": current.get("since")})
        return categories


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    from botocore.exceptions import BotoCoreError, ClientError
    from tuma.errors import Unavailable

    try:
        switches = Switches(stack.locate(args))
        if args.command == "caps":
            return _caps_command(switches, args, out, err)
        paused = switches.pause(args.category) if args.command == "pause" else switches.resume(args.category)
    except stack.Unconfigured as exc:
        print(f"configuration error: {exc}", file=err)
        return EXIT_CONFIG
    except (ClientError, BotoCoreError, Unavailable) as exc:
        print(f"AWS refused: {type(exc).__name__}", file=err)
        return EXIT_CONFIG
    _print_paused(paused, args, out)
    return EXIT_OK


def _print_paused(paused: list[str], args: argparse.Namespace, out: TextIO) -> None:
    if args.json:
        print(json.dumps({"paused": paused}), file=out)
    elif paused:
        what = "everything" if "all" in paused else ", ".join(paused)
        print(f"paused: {what}; messages wait (RETRYING) and go when resumed (tuma resume)", file=out)
    else:
        print("nothing paused: waiting messages go within two minutes", file=out)


def _caps_command(switches: Switches, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.caps_command != "set":
        return _caps(switches.show(), args, out)
    given = (
        ("daily_parts", args.daily_parts),
        ("receipt_daily_parts", args.receipt_daily_parts),
        ("monthly_parts", args.monthly_parts),
    )
    changes = {name: value for name, value in given if value is not None}
    if not changes or any(v < 0 for v in changes.values()):
        print("configuration error: give a cap to set, 0 or more", file=err)
        return EXIT_CONFIG
    return _caps(switches.set_caps(changes), args, out)


def _caps(shown: dict[str, Any], args: argparse.Namespace, out: TextIO) -> int:
    if args.json:
        print(json.dumps(shown, indent=2), file=out)
        return EXIT_OK
    caps, today, month = shown["caps"], shown["today"], shown["this_month"]

    def cap(value: int) -> str:
        return "no cap" if not value else f"{value} parts"

    print(f"daily cap:          {cap(caps['daily_parts'])}", file=out)
    print(f"receipts' own cap:  {cap(caps['receipt_daily_parts'])}", file=out)
    print(f"monthly cap:        {cap(caps['monthly_parts'])}", file=out)
    if shown["set_by_operator"]:
        print(f"(set by an operator: {', '.join(shown['set_by_operator'])})", file=out)
    print(
        f"today ({today['day']}): {today['receipt_parts']} receipt parts, {today['other_parts']} other",
        file=out,
    )
    print(
        f"this month ({month['month']}): {month['receipt_parts']} receipt parts, {month['other_parts']} other",
        file=out,
    )
    if shown["paused"]:
        print(f"PAUSED: {', '.join(shown['paused'])}", file=out)
    return EXIT_OK
