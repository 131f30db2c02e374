"""Alert storms collapse: repeats of one alert (its host and title, or one CloudWatch alarm) within a
window are one SMS; an alarm flapping between ALARM and OK sends at most one pair; when the window
closes, one summary follows ("and 14 more since 02:10").

A window is a document in the guards' store (`collapse#<digest of its key>`): opened by the first
message, counted by the repeats, read again when its summary is sent (the read step of the send
path, tuma.services.send_path.reading).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from tuma.formatting.clock import format_eat, parse_time
from tuma.models.sending import Delivery
from tuma.models.sources import OwnSource
from tuma.ports import Agenda, GuardStore

Window = dict[str, Any]


def collapse_name(key: str) -> str:
    return f"collapse#{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def summary_details(window: Mapping[str, Any]) -> str:
    since = format_eat(parse_time(window["since"]))[-5:]
    return f"and {int(window.get('more', 0))} more since {since}"


SUMMARY_PREFIX = "alert-summary:"


def summary_key(name: str, since: str) -> str:
    """A storm's summary is named by its window and the window's opening."""
    return f"{SUMMARY_PREFIX}{name.removeprefix('collapse#')}:{since}"[:200]


def summarised(window: Mapping[str, Any], summary: str) -> Mapping[str, Any] | None:
    """What the summary keyed `summary` reports: its own window, also once a storm that outlasted it
    has opened the next one (which keeps the closed window's count); None when neither is its."""
    if not summary.startswith(SUMMARY_PREFIX):
        return window  # not named by Tuma's storms: the window as it is
    since = summary.removeprefix(SUMMARY_PREFIX).partition(":")[2]
    if window.get("since") == since:
        return window
    closed = window.get("closed")
    return closed if isinstance(closed, dict) and closed.get("since") == since else None


# What a guard itself sends (its own alert, a storm's summary) passes every guard. `source: guard` in
# the body proves nothing, since the business's producers write the outbox too: the guard that makes
# such a message vouches for it first in the state table, which only Tuma's functions may write, and
# the batch's one read finds it there (tuma.services.storms does the same for its summaries).
OWN_PREFIX = "own#"
OWN_FOR = timedelta(days=40)  # past the longest a summary is scheduled ahead, and its retries


def own_name(key: str) -> str:
    return f"{OWN_PREFIX}{key}"[:1024]


def vouch_for(store: GuardStore, key: str, until: datetime) -> None:
    store.put_counts({own_name(key): 1}, int(until.timestamp()))


class AlertStorms:
    def __init__(
        self,
        store: GuardStore,
        *,
        agenda: Agenda | None = None,
        alert_recipients: Sequence[str] = (),
        language: str = "en",
    ) -> None:
        """`agenda` holds each storm's summary until its window closes."""
        self._store = store
        self._agenda = agenda
        self._alert_recipients = tuple(alert_recipients)
        self._language = language

    def windows(self, names: Sequence[str]) -> dict[str, Window]:
        return self._store.read_many(names)

    def collapsed(
        self,
        delivery: Delivery,
        documents: Mapping[str, Window],
        seconds: int,
        now: datetime,
        opened: dict[str, Window],
    ) -> str | None:
        """Why this delivery is a repeat within its window (None: it goes). `opened` gathers the
        windows this batch opened or changed, saved by `save` once the batch is judged."""
        if delivery.collapse is None or not seconds:
            return None
        key, state = delivery.collapse
        name = collapse_name(key)
        window = opened.get(name) or dict(documents.get(name, {}))
        until = window.get("until")
        if until is None or parse_time(until) <= now:
            # This message goes, and opens the window; the one it replaces keeps its count for its
            # summary, sent when it closed, maybe after this.
            opened[name] = _new_window(delivery, now, seconds) | _closed(window)
            return None
        window = opened.setdefault(name, window)
        if _lets_through(window, delivery, state):
            return None
        if delivery.idempotency_key not in window.get("collapsed", []):
            window["more"] = int(window.get("more", 0)) + 1
            window["collapsed"] = [*window.get("collapsed", []), delivery.idempotency_key][-50:]
        since = format_eat(parse_time(window["since"]))[-5:]
        return f"collapsed: a repeat within the alert window since {since}; a summary follows"

    def save(self, opened: Mapping[str, Window], documents: Mapping[str, Window]) -> None:
        for name, window in opened.items():
            previous = documents.get(name)
            if window == previous:
                continue
            if not self._store.swap(name, previous, window):
                # Another sender moved the window meanwhile: ours is counted on top of what it wrote.
                current = self._store.read_many([name]).get(name) or window
                added = int(window.get("more", 0)) - int((previous or {}).get("more", 0))
                self._store.write(name, current | {"more": int(current.get("more", 0)) + max(0, added)})
                continue
            same_window = previous is not None and previous.get("since") == window["since"]
            before = int(previous.get("more", 0)) if previous is not None and same_window else 0
            if before == 0 < int(window.get("more", 0)):
                # The window's first repeat: its summary goes when the window closes.
                self._schedule_summary(
                    name, parse_time(window["until"]), str(window.get("title", "")), window["since"]
                )

    def _schedule_summary(self, name: str, due: datetime, title: str, since: str) -> None:
        """The storm's summary, on the agenda until its window closes; its count is read then."""
        if self._agenda is None:
            return
        from tuma.formatting.phones import InvalidNumber, parse_recipient
        from tuma.models.ledger import LedgerEntry, ScheduledMessage, Status
        from tuma.models.outbox import OutboxMessage

        key = summary_key(name, since)
        message = OutboxMessage(
            idempotency_key=key,
            template="alert",
            data={"title": title},
            source=OwnSource.GUARD,
            summary_of=name,
            language=self._language,
        )
        entries = []
        for raw in self._alert_recipients:
            try:
                recipient = parse_recipient(raw)
            except InvalidNumber:
                continue
            entries.append(
                LedgerEntry(
                    key,
                    recipient.ref,
                    recipient.masked,
                    Status.SCHEDULED,
                    template="alert",
                    source=OwnSource.GUARD,
                    scheduled_for=due,
                )
            )
        vouch_for(self._store, key, due + OWN_FOR)
        self._agenda.schedule(ScheduledMessage(key, due, message.to_json()), entries)


def _new_window(delivery: Delivery, now: datetime, seconds: int) -> Window:
    assert delivery.collapse is not None
    key, state = delivery.collapse
    return {
        "key": key,
        "title": delivery.collapse_title,
        "since": now.isoformat(),
        "until": (now + timedelta(seconds=seconds)).isoformat(),
        "sent": [state],
        "passed": [delivery.idempotency_key],
        "collapsed": [],
        "more": 0,
    }


def _closed(window: Window) -> Window:
    if not int(window.get("more", 0)):
        return {}  # nothing to summarise
    return {"closed": {"since": window["since"], "more": int(window["more"])}}


def _lets_through(window: Window, delivery: Delivery, state: str) -> bool:
    """Another recipient of a message this window let through goes too; so does an alarm's first
    ALARM and first OK in a window (one pair at most)."""
    if delivery.idempotency_key in window.get("passed", []):
        return True
    if state != "alert" and state not in window.get("sent", []):
        window["sent"] = [*window.get("sent", []), state]
        window["passed"] = [*window.get("passed", []), delivery.idempotency_key][-50:]
        return True
    return False
