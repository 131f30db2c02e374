"""Two providers, one at a time: a circuit breaker that every sender shares through the state table.

- closed: the primary carries everything. `threshold` sends in a row on which the primary was down
  (every message of the call failed with a 5xx, a timeout, 1005/1007 or 4090) open it.
- open: the secondary carries everything. Every `probe_seconds`, one sender (the one whose
  conditional write moves the breaker to half-open) asks the primary for its balance, a call that
  sends nothing.
- half-open: that probe is under way; an answer closes the breaker, a failure opens it again. A
  probe abandoned by a sender that died counts as failed after PROBE_TIMEOUT seconds.

What counts is the provider being down, not the message being wrong: 1003 (an invalid number) or a
configuration error says the primary is up.

A message is never sent through both. The primary's failures are moved to the secondary at once
only when the primary cannot have taken them (it refused the connection or answered with an error);
one whose answer was lost (a read timeout, a dropped connection, no entry for it in the answer) may
have been accepted, so it stays pinned to the primary: the claims remember the pin and every retry
goes there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from tuma.models.ledger import PRIMARY, SECONDARY
from tuma.models.outbox import OutboxMessage
from tuma.models.provider_codes import Disposition, meaning
from tuma.models.sending import BulkMessage, SendResult
from tuma.models.sources import OwnSource
from tuma.ports import Sender, StateStore
from tuma.security.redaction import scrub_text

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
PROBE_TIMEOUT = 30.0
STATE = "provider-breaker"


def provider_down(result: SendResult) -> bool:
    """The kinds of failure that say the provider, not the message, is at fault (tuma.models.provider_codes:
    `outage`; no code at all is one too)."""
    if result.code is None:  # no answer, a 5xx, no entry for the message (retried): the provider's
        return result.disposition is Disposition.RETRY
    return meaning(result.code).outage


@dataclass(frozen=True)
class Transition:
    """The breaker changed hands: `to` now carries the traffic."""

    to: str
    at: datetime
    reason: str


class Breaker:
    """The breaker's state in a StateStore document, changed only by compare-and-swap.

    If the store cannot be read the primary is used: the breaker may fail to help, never stop sending.
    """

    def __init__(
        self,
        store: StateStore,
        *,
        threshold: int = 3,
        probe_seconds: float = 60,
        clock: Callable[[], float] = time.time,
        name: str = STATE,
    ) -> None:
        self._store = store
        self._threshold = threshold
        self._probe_seconds = probe_seconds
        self._clock = clock
        self._name = name
        self._unwritable = False  # the last write failed for want of the store, not a race

    def read(self) -> dict[str, Any]:
        """The stored document; empty when none was ever written (closed) or it cannot be read."""
        try:
            return self._store.read(self._name) or {}
        except Exception:
            log.exception("the breaker's state could not be read: using the primary")
            return {}

    def route(self, state: Mapping[str, Any]) -> str:
        return PRIMARY if state.get("state", CLOSED) == CLOSED else SECONDARY

    def _swap(self, expected: Mapping[str, Any], value: dict[str, Any]) -> bool:
        try:
            return self._store.swap(self._name, dict(expected) or None, value)
        except Exception:
            log.exception("the breaker's state could not be written")
            self._unwritable = True
            return False

    def failed(self, reason: str) -> Transition | None:
        """One send on which the primary was down; the transition if this one opened the breaker."""
        self._unwritable = False
        for _ in range(5):  # lost races are retried; an unreachable store is not
            if self._unwritable:
                return None
            state = self.read()
            if state.get("state", CLOSED) != CLOSED:
                return None
            failures = int(state.get("failures", 0)) + 1
            now = self._clock()
            if failures < self._threshold:
                value = {"state": CLOSED, "failures": failures, "changed_at": now}
                if self._swap(state, value):
                    return None
                continue
            value = {
                "state": OPEN,
                "failures": failures,
                "changed_at": now,
                "probe_at": now + self._probe_seconds,
            }
            if self._swap(state, value):
                return Transition(SECONDARY, _at(now), reason)
        return None

    def succeeded(self, state: Mapping[str, Any]) -> None:
        """The primary answered: a closed breaker forgets earlier failures."""
        if state.get("state", CLOSED) == CLOSED and int(state.get("failures", 0)) > 0:
            self._swap(state, {"state": CLOSED, "failures": 0, "changed_at": self._clock()})

    def probe(self, state: Mapping[str, Any], primary_answers: Callable[[], bool]) -> Transition | None:
        """If a probe is due and this caller wins it, ask the primary; the transition if it closed."""
        now = self._clock()
        due = state.get("state") in (OPEN, HALF_OPEN) and now >= float(state.get("probe_at", 0))
        if not due:
            return None
        probing = {**state, "state": HALF_OPEN, "probe_at": now + PROBE_TIMEOUT}
        if not self._swap(state, probing):
            return None  # another sender is probing
        try:
            healthy = primary_answers()
        except Exception:
            healthy = False
        now = self._clock()
        if healthy:
            if self._swap(probing, {"state": CLOSED, "failures": 0, "changed_at": now}):
                return Transition(PRIMARY, _at(now), "the primary answered")
            return None
        self._swap(probing, {**probing, "state": OPEN, "probe_at": now + self._probe_seconds})
        return None


def alert_for(transition: Transition, language: str = "en") -> OutboxMessage:
    """The alert SMS for the alert recipients, one per transition (keyed by it)."""
    at = transition.at.isoformat(timespec="seconds")
    started = transition.to == SECONDARY
    title = (
        "SMS provider down: sending through the secondary"
        if started
        else "SMS provider back: sending through the primary"
    )
    return OutboxMessage(
        idempotency_key=f"provider-failover:{transition.to}:{at}",
        template="alert",
        # The reason is the provider's own words, and it ends up in an SMS and the ledger.
        data={
            "title": title,
            "details": scrub_text(transition.reason)[:120],
            "at": at,
            "severity": "warning",
        },
        language=language,
        source=OwnSource.FAILOVER,
    )


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class FailoverSender(Sender):
    """A `Sender` over two providers, routed by the breaker; every result names its provider."""

    def __init__(
        self,
        primary: Sender,
        secondary: Sender,
        breaker: Breaker,
        primary_answers: Callable[[], bool],
        on_transition: Callable[[Transition], None] = lambda t: None,
    ) -> None:
        self._senders = {PRIMARY: primary, SECONDARY: secondary}
        self._breaker = breaker
        self._primary_answers = primary_answers
        self._on_transition = on_transition

    def _state(self) -> dict[str, Any]:
        state = self._breaker.read()
        transition = self._breaker.probe(state, self._primary_answers)
        if transition is not None:
            self._announce(transition)
            state = self._breaker.read()
        return state

    def _announce(self, transition: Transition) -> None:
        log.warning("SMS now go through the %s provider: %s", transition.to, transition.reason)
        try:
            self._on_transition(transition)
        except Exception:
            log.exception("the failover alert could not be queued")

    def send_bulk(self, messages: Sequence[BulkMessage]) -> dict[str, SendResult]:
        state = self._state()
        route = self._breaker.route(state)
        groups: dict[str, list[BulkMessage]] = {}
        for message in messages:
            groups.setdefault(message.pinned or route, []).append(message)
        results: dict[str, SendResult] = {}
        for name, group in groups.items():
            answers = _stamped(self._senders[name].send_bulk(group), name)
            if name == PRIMARY:
                movable = self._judge(state, list(answers.values()), [m.pinned is None for m in group])
                moved = [m for m, free in zip(group, movable, strict=True) if free]
                if moved:
                    answers |= _stamped(self._senders[SECONDARY].send_bulk(moved), SECONDARY)
                answers = {key: _soon(result) for key, result in answers.items()}
            results |= answers
        return results

    def send_otp(
        self, mobile: str, message: str, *, hashed: bool = False, pinned: str | None = None
    ) -> SendResult:
        state = self._state()
        name = pinned or self._breaker.route(state)
        result = replace(self._senders[name].send_otp(mobile, message, hashed=hashed), provider=name)
        if name == PRIMARY and self._judge(state, [result], [pinned is None])[0]:
            return replace(
                self._senders[SECONDARY].send_otp(mobile, message, hashed=hashed), provider=SECONDARY
            )
        return _soon(result)

    def _judge(self, state: Mapping[str, Any], results: list[SendResult], unpinned: list[bool]) -> list[bool]:
        """Feed the primary's answers to the breaker; which of them to send through the secondary now."""
        down = [provider_down(r) for r in results]
        if results and all(down):
            transition = self._breaker.failed(results[0].description)
            if transition is None:
                return [False] * len(results)
            self._announce(transition)
            return [
                d and free and not r.maybe_accepted
                for d, free, r in zip(down, unpinned, results, strict=True)
            ]
        self._breaker.succeeded(state)
        return [False] * len(results)


def _soon(result: SendResult) -> SendResult:
    """The primary's "try again in 5 minutes" (4090) is its own: with a secondary to go to, the
    message comes back as soon as any transient failure does."""
    if result.provider == PRIMARY and meaning(result.code).own_wait and not result.maybe_accepted:
        return replace(result, disposition=Disposition.RETRY)
    return result


def _stamped(results: Mapping[str, SendResult], provider: str) -> dict[str, SendResult]:
    return {key: replace(result, provider=provider) for key, result in results.items()}
