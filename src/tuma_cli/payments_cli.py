"""`tuma payments --day YYYY-MM-DD`: did every payment of the day get its receipt?

Every payment Tuma learnt that day, how it was learnt (callback, pull, status query, your system),
and its receipt's status; with Daraja configured and the day within its 48 hours, M-Pesa's own list
is read and compared, so a payment M-Pesa has and Tuma never saw is listed as such.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, TextIO

from tuma_cli import stack

if TYPE_CHECKING:
    from tuma.models.daraja import PullTimes
    from tuma.models.pull import PulledTransaction
    from tuma.services.finance import DayView

    from tuma_cli.daraja_cli import Connection

EXIT_OK, EXIT_CONFIG = 0, 2
MAX_PAGES = 200  # a day's list is never read past this many pages of one short code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--day", help="YYYY-MM-DD, East Africa Time (default: today)")
    parser.add_argument("--csv", action="store_true", help="one CSV row per payment")


def mpesa_list(found: stack.Stack, day: date) -> tuple[dict[str, list[PulledTransaction]] | None, str | None]:
    """M-Pesa's payments of the day by short code, read with Pull; None and why when it cannot be."""
    from tuma.formatting.clock import EAT
    from tuma.models.daraja import DarajaFailure, PullTimes
    from tuma.services.pull import DARAJA_HORIZON

    from tuma_cli.daraja_cli import connect

    try:
        connection = connect(found)
    except stack.Unconfigured as exc:
        return None, f"M-Pesa's list not read: {exc}"
    start = datetime(day.year, day.month, day.day, tzinfo=EAT)
    now = datetime.now(EAT)
    end = min(start + timedelta(days=1) - timedelta(seconds=1), now)
    if start < now - DARAJA_HORIZON + timedelta(minutes=5):
        return (
            None,
            "M-Pesa's list not read: Daraja's Pull keeps only the last 48 hours (see the M-Pesa org portal)",
        )
    times = PullTimes(connection.settings.get("pull_times", "kenya"))
    listed: dict[str, list[PulledTransaction]] = {}
    try:
        for code in connection.credentials.short_codes:
            rows = _day_of(connection, code, start, end, times)
            if rows is None:
                return None, f"M-Pesa's list not read: more than {MAX_PAGES} pages for short code {code}"
            listed[code] = rows
    except DarajaFailure as failure:
        return None, f"M-Pesa's list not read: {failure.description}"
    return listed, None


def _day_of(
    connection: Connection, code: str, start: datetime, end: datetime, times: PullTimes
) -> list[PulledTransaction] | None:
    """One short code's payments of the day (None: more pages than MAX_PAGES). Read three hours
    either side, whichever clock Daraja keeps, then kept to the day as DarajaPullTimes reads each
    row: a payment at 22:00 is on its own day, not the next."""
    from tuma.services.pull import ZONE_DOUBT

    offset = 0
    rows: list[PulledTransaction] = []
    for _ in range(MAX_PAGES):
        page = connection.client.pull(code, start - ZONE_DOUBT, end + ZONE_DOUBT, offset)
        if not page:
            return rows
        rows += [t for t in (_read(row) for row in page) if t is not None and _on(t, start.date(), times)]
        offset += len(page)
    return None


def _read(row: object) -> PulledTransaction | None:
    from tuma.models.payments import InvalidPayment
    from tuma.models.pull import read_row

    try:
        return read_row(row)
    except InvalidPayment:
        return None  # the pull records it as a rejection with its reason


def _on(transaction: PulledTransaction, day: date, times: PullTimes) -> bool:
    from tuma.formatting.clock import EAT

    paid = transaction.paid_at(times)
    return paid is None or paid.astimezone(EAT).date() == day


def view(found: stack.Stack, day: date) -> DayView:
    from tuma.adapters.dynamodb_ledger_views import LedgerViews
    from tuma.services.finance import day_view

    ledger = LedgerViews(found.client("dynamodb"), found.table("ledger"))
    records = ledger.payments_on(day.isoformat())
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = [str(r["idempotency_key"]) for r in records]
        entries = dict(zip(keys, pool.map(ledger.get, keys), strict=True))
    pulled, note = mpesa_list(found, day)
    return day_view(day.isoformat(), records, entries, pulled, note)


CSV_COLUMNS = (
    "receipt",
    "amount",
    "currency",
    "short_code",
    "account",
    "learnt_by",
    "receipt_status",
    "recipient",
    "paid_at",
    "in_mpesa",
    "confirmation",
)


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    from tuma.formatting.clock import EAT

    try:
        day = date.fromisoformat(args.day) if args.day else datetime.now(EAT).date()
    except ValueError:
        print(f"configuration error: --day must be YYYY-MM-DD, not {args.day!r}", file=err)
        return EXIT_CONFIG
    try:
        result = view(stack.locate(args), day)
    except stack.Unconfigured as exc:
        print(f"configuration error: {exc}", file=err)
        return EXIT_CONFIG
    if args.json:
        print(json.dumps(result.as_dict(), indent=2), file=out)
    elif args.csv:
        _write_csv(result, out)
    else:
        _print_day(result, out)
    return EXIT_OK


def _write_csv(result: DayView, out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in result.rows:
        values = row.as_dict()
        values["in_mpesa"] = "" if row.in_mpesa is None else str(row.in_mpesa).lower()
        writer.writerow([values[column] for column in CSV_COLUMNS])


def _print_day(result: DayView, out: TextIO) -> None:
    print(f"Payments of {result.day} (East Africa Time)", file=out)
    print(
        f"{'RECEIPT':<12} {'AMOUNT':>12} {'SHORT CODE':<10} {'ACCOUNT':<16} {'LEARNT BY':<19} {'RECEIPT':<20} "
        f"{'M-PESA':<10} CONFIRMED",
        file=out,
    )
    for row in result.rows:
        listed = "-" if row.in_mpesa is None else "listed" if row.in_mpesa else "NOT LISTED"
        print(
            f"{row.receipt:<12} {row.currency + ' ' + row.amount:>12} {row.short_code:<10} {row.account[:16]:<16} "
            f"{row.learnt_by:<19} {row.receipt_status:<20} {listed:<10} {row.confirmation}",
            file=out,
        )
    print(file=out)
    print(f"{len(result.rows)} payments, KES {result.total_amount:,.2f}", file=out)
    print(
        "by receipt status: " + ", ".join(f"{k} {v}" for k, v in sorted(result.by_status.items())), file=out
    )
    print(
        "by how learnt:     " + ", ".join(f"{k} {v}" for k, v in sorted(result.by_learnt.items())), file=out
    )
    print(result.mpesa_note or "compared with M-Pesa's own list (Pull)", file=out)
    unconfirmed = [row.receipt for row in result.rows if row.confirmation == "UNCONFIRMED"]
    if unconfirmed:
        print(
            f"UNCONFIRMED: {', '.join(unconfirmed)}: a callback reported them, M-Pesa's own record does not "
            "have them; check them in the M-Pesa org portal before handing over goods",
            file=out,
        )
