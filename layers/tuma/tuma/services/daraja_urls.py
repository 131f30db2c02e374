"""Which URLs Daraja calls for each short code: what Tuma registered, against the stack's URLs now.

Daraja has no way to read back what a short code has registered, and production registers once:
a second Register URL answers "already registered" and keeps the first URLs. So a stack recreated
(a new API host) or a Daraja token rotated leaves M-Pesa posting to URLs that no longer work, while
the registration "succeeds". Tuma keeps what it registered (a digest of the URLs, never the token,
and where they pointed) in the state table, and compares:

- registered now: the record is the stack's current URLs;
- "already registered" with the same URLs: nothing to do;
- "already registered" with other URLs: refused, with exactly what to ask Safaricom for;
- "already registered" with no record (registered before Tuma kept one, or by hand): kept, with
  what to do if callbacks do not arrive.
`tuma doctor` makes the same comparison without calling Daraja.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from tuma.models.daraja import Registration

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tuma.ports import StateStore
    from tuma.services.daraja_setup import CallbackUrls, Step

PULL_CALL = "Pull register"
KEPT = "Daraja keeps the URLs first registered for short code {code}{where} and will not take new ones. "
ASK_SAFARICOM = (
    "Delete them on the Daraja portal (self-service, URL management) or e-mail apisupport@safaricom.co.ke: "
    '"Please delete the {what} registered for short code {code} so that we can register new ones." '
    "Then run tuma daraja register again."
)


@dataclass(frozen=True)
class Drift:
    """One short code's registration against the stack's URLs now."""

    short_code: str
    call: str  # "Register URL" or "Pull register"
    recorded: dict[str, str] | None  # what Tuma registered: digest, base, at
    current: bool  # the record is the stack's URLs now


def record_name(short_code: str, call: str) -> str:
    return f"daraja#registered#{short_code}#{'pull' if call == PULL_CALL else 'c2b'}"


def digest(urls: CallbackUrls, call: str) -> str:
    """The URLs one call registers, hashed: the record never holds the path token itself."""
    named = (urls.pull,) if call == PULL_CALL else (urls.confirmation, urls.validation)
    return hashlib.sha256("\n".join(named).encode()).hexdigest()[:32]


def reconcile(
    steps: Sequence[Step], urls: CallbackUrls, base_url: str, records: StateStore, now: datetime
) -> list[Step]:
    """Each registration step, judged against what was registered before; the records kept up."""
    judged = []
    for step in steps:
        name = record_name(step.short_code, step.call)
        wanted = digest(urls, step.call)
        if step.result.outcome == "registered":
            records.write(name, {"digest": wanted, "base": base_url, "at": now.isoformat()})
        elif step.result.outcome == "already registered":
            judged.append(replace(step, result=_already(step, records.read(name), wanted)))
            continue
        judged.append(step)
    return judged


def _already(step: Step, recorded: dict[str, str] | None, wanted: str) -> Registration:
    if recorded is not None and recorded.get("digest") == wanted:
        return step.result
    what = "Pull callback URL" if step.call == PULL_CALL else "C2B confirmation and validation URLs"
    ask = ASK_SAFARICOM.format(code=step.short_code, what=what)
    if recorded is None:
        unknown = (
            "registered before Tuma kept a record, so not known to be these URLs: if M-Pesa's callbacks "
        )
        return replace(step.result, fix=unknown + "do not arrive, " + ask[0].lower() + ask[1:])
    where = f" (at {recorded.get('base', '?')}, on {recorded.get('at', '?')[:10]})"
    return Registration(
        "refused",
        f"{step.result.description}: with other URLs than the stack's now",
        step.result.code,
        KEPT.format(code=step.short_code, where=where) + ask,
    )


def kept_elsewhere(short_code: str, call: str, recorded: dict[str, str]) -> str:
    """What `tuma doctor` says to do when the registered URLs are not the stack's."""
    what = "Pull callback URL" if call == PULL_CALL else "C2B confirmation and validation URLs"
    where = f" (at {recorded.get('base', '?')}, on {recorded.get('at', '?')[:10]})"
    return (
        "run tuma daraja register; if Daraja answers already registered: "
        + KEPT.format(code=short_code, where=where)
        + ASK_SAFARICOM.format(code=short_code, what=what)
    )


def drift(
    short_codes: Sequence[str], nominated: bool, urls: CallbackUrls, records: StateStore
) -> list[Drift]:
    """For `tuma doctor`: each short code's registrations against the stack's URLs now."""
    calls = ("Register URL", PULL_CALL) if nominated else ("Register URL",)
    found = []
    for code in short_codes:
        for call in calls:
            recorded = records.read(record_name(code, call))
            current = recorded is not None and recorded.get("digest") == digest(urls, call)
            found.append(Drift(code, call, recorded, current))
    return found
