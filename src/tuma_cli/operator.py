"""Operator commands against the configured provider: `tuma send`, `tuma balance`, `tuma dlr`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from tuma.errors import ConfigurationError
from tuma.formatting.gsm7 import TextRejected, prepare
from tuma.formatting.phones import InvalidNumber, parse_recipient
from tuma.models.outbox import Route
from tuma.models.provider_answers import ProviderError
from tuma.models.provider_codes import Disposition
from tuma.models.sending import ProviderRoute, SendResult, route_for
from tuma.provider.client import ProviderClient
from tuma.runtime import api_clients
from tuma.runtime.settings import load
from tuma.runtime.settings.operator import OperatorSettings
from tuma.security.masking import mask

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
_CONFIG_DISPOSITIONS = (Disposition.CONFIG, Disposition.CREDENTIALS)


@dataclass(frozen=True)
class Row:
    mobile: str
    status: str
    messageid: str | None
    code: int | None
    description: str


def _row(mobile: str, result: SendResult) -> Row:
    status = {Disposition.SUCCESS: "accepted", Disposition.REJECT: "rejected"}.get(
        result.disposition, "failed"
    )
    return Row(mask(mobile), status, result.message_id, result.code, result.description)


def _client() -> ProviderClient:
    return api_clients.provider_client(load(OperatorSettings))


@dataclass(frozen=True)
class _Target:
    row: int
    number: str
    route: ProviderRoute


def _targets(to: str, route: Route, rows: list[Row | None]) -> list[_Target]:
    """Numbers that can be sent to; the others get their row (rejected, with why) right away."""
    targets: list[_Target] = []
    for raw in [p for p in to.split(",") if p.strip()]:
        try:
            recipient = parse_recipient(raw)
        except InvalidNumber as exc:
            rows.append(Row(mask(raw), "rejected", None, None, f"invalid number: {exc.reason}"))
            continue
        if not recipient.sendable:
            rows.append(Row(recipient.masked, "rejected", None, None, "number is masked: cannot send"))
            continue
        targets.append(_Target(len(rows), recipient.value, route_for(recipient, route)))
        rows.append(None)
    return targets


def _send_targets(targets: list[_Target], message: str) -> dict[str, SendResult]:
    client = _client()
    plain = [t.number for t in targets if t.route is ProviderRoute.SMS]
    results = client.send_sms(plain, message) if plain else {}
    for target in targets:
        if target.route is not ProviderRoute.SMS:
            hashed = target.route is ProviderRoute.HASHED
            results[target.number] = client.send_otp(target.number, message, hashed=hashed)
    return results


def send(to: str, text: str, route: str, as_json: bool, out: TextIO = sys.stdout) -> int:
    settings = load(OperatorSettings)
    rows: list[Row | None] = []
    targets = _targets(to, Route(route), rows)
    if not rows:
        print("no recipients given", file=sys.stderr)
        return EXIT_FAILED
    config_error = _fill_rows(targets, rows, text, settings.SMS_MAX_PARTS)
    final = [r for r in rows if r is not None]
    for row in final:
        print(json.dumps(row.__dict__) if as_json else _row_line(row), file=out)
    if config_error:
        return EXIT_CONFIG
    return EXIT_OK if all(r.status == "accepted" for r in final) else EXIT_FAILED


def _fill_rows(targets: list[_Target], rows: list[Row | None], text: str, max_parts: int) -> bool:
    """Each target's row, from the provider's answer (or why the text cannot go); True when the
    provider refused the configuration."""
    try:
        message = prepare(text, max_parts=max_parts).text
    except TextRejected as exc:
        for target in targets:
            rows[target.row] = Row(mask(target.number), "rejected", None, None, exc.reason)
        return False
    results = _send_targets(targets, message) if targets else {}
    for target in targets:
        rows[target.row] = _row(target.number, results[target.number])
    return any(results[t.number].disposition in _CONFIG_DISPOSITIONS for t in targets)


def _row_line(row: Row) -> str:
    return (
        f"{row.mobile:<16} {row.status:<9} {row.messageid or '-':<12} {row.code or '-':<5} {row.description}"
    )


def _print(payload: dict[str, Any], text: str, as_json: bool, out: TextIO) -> None:
    print(json.dumps(payload, default=str) if as_json else text, file=out)


def balance(as_json: bool, out: TextIO = sys.stdout) -> int:
    try:
        result = _client().get_balance()
    except ProviderError as exc:
        return _provider_failure(exc)
    _print({"credit": str(result.credit)}, f"credit: {result.credit}", as_json, out)
    return EXIT_OK


def dlr(message_id: str, as_json: bool, out: TextIO = sys.stdout) -> int:
    try:
        report = _client().get_dlr(message_id)
    except ProviderError as exc:
        return _provider_failure(exc)
    if report is None:
        _print(
            {"messageid": message_id, "status": None}, f"{message_id}: no delivery report yet", as_json, out
        )
        return EXIT_OK
    payload = {
        "messageid": report.message_id or message_id,
        "status": report.status,
        "status_code": report.status_code,
        "turnaround": report.turnaround,
        "delivered_at": report.delivered_at.isoformat() if report.delivered_at else None,
    }
    _print(
        payload, f"{payload['messageid']}: {report.status} at {payload['delivered_at'] or '-'}", as_json, out
    )
    return EXIT_OK


def _provider_failure(exc: ProviderError) -> int:
    print(f"provider error: {exc}", file=sys.stderr)
    return EXIT_CONFIG if exc.disposition in _CONFIG_DISPOSITIONS else EXIT_FAILED


def guard(command: Callable[[], int]) -> int:
    """Configuration problems end with exit code 2 and one line saying what to fix."""
    try:
        return command()
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
