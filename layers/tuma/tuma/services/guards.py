"""Guards: no bug, loop or attacker drains the credit or floods a phone, and one switch stops it all.

Checked per batch, after the claims (a duplicate never counts) and before the provider is called:

- **pause**: an operator's switch (`tuma pause`), for everything or one category; paused messages wait.
- **caps on parts**: per day and month, in total, with receipts on their own (higher) cap when one is
  set, so that a promotion or an alert storm never starves them. At 80% one alert; at the cap,
  messages wait until the period turns or an operator raises it (`tuma caps set`).
- **per-recipient limits**: at most N messages an hour to one number, per category. Codes and alerts
  beyond it are refused with the reason; the rest wait.
- **alert storms collapse** (tuma.services.storms): repeats of one alert within the window are one
  SMS; when the window closes, one summary follows.

A waiting message is not lost: it is put back on its queue to come back later (`OutboxQueue.park`),
its ledger entry RETRYING with the reason. Everything a batch needs is read in one batched read.
Tuma's own guard alerts pass every guard: they say why the others wait.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tuma.formatting.clock import EAT, format_eat
from tuma.models.sources import OwnSource
from tuma.security.number_keys import rate_ref
from tuma.services.storms import OWN_FOR, AlertStorms, collapse_name, own_name, vouch_for

if TYPE_CHECKING:
    from tuma.formatting.phones import Recipient
    from tuma.models.sending import Delivery
    from tuma.ports import Agenda, GuardStore, OutboxQueue
    from tuma.security.number_keys import NumberKeys

log = logging.getLogger(__name__)
CAPS = "guard#caps"
PAUSE = "guard#pause"
PAUSED_WAIT = 120  # a paused message looks again this often: `tuma resume` takes effect within it
CAPPED_WAIT = 900  # SQS's longest delay; a raised cap takes effect within it
WARN_AT = 0.8


class Category(StrEnum):
    RECEIPT = "receipt"
    CODE = "code"  # one-time codes: the OTP route, hashed numbers
    ALERT = "alert"  # alerts, alarms and low-credit notices to the business's own people
    MESSAGE = "message"  # everything else


class Verdict(StrEnum):
    SEND = "send"
    WAIT = "wait"
    REFUSE = "refuse"
    COLLAPSE = "collapse"


@dataclass(frozen=True)
class Judged:
    delivery: Delivery
    verdict: Verdict
    reason: str = ""
    wait_seconds: int = 0


@dataclass(frozen=True)
class Limits:
    """From the function's settings; an operator's `tuma caps set` overrides the caps (CAPS)."""

    daily_parts: int = 0  # 0: no cap
    receipt_daily_parts: int = 0  # receipts' own cap; 0: receipts count towards daily_parts
    monthly_parts: int = 0
    hourly: Mapping[Category, int] = field(
        default_factory=lambda: {
            Category.RECEIPT: 200,
            Category.CODE: 5,
            Category.ALERT: 30,
            Category.MESSAGE: 10,
        }
    )
    collapse_seconds: int = 600
    recheck_seconds: int = CAPPED_WAIT  # how soon a held message looks again (SQS delays at most 900 s)

    def with_overrides(self, document: Mapping[str, Any]) -> Limits:
        def number(name: str, default: int) -> int:
            try:
                return max(0, int(document.get(name, default)))
            except (TypeError, ValueError):
                return default

        return Limits(
            number("daily_parts", self.daily_parts),
            number("receipt_daily_parts", self.receipt_daily_parts),
            number("monthly_parts", self.monthly_parts),
            self.hourly,
            self.collapse_seconds,
            self.recheck_seconds,
        )


@dataclass(frozen=True)
class Cap:
    """One cap as it applies to a delivery: its name, limit, and the counters it sums."""

    name: str  # "daily", "receipt daily", "monthly"
    limit: int
    counters: tuple[str, ...]
    period: str  # the day or month it counts


def day_of(now: datetime) -> str:
    return now.astimezone(EAT).date().isoformat()


def month_of(now: datetime) -> str:
    return now.astimezone(EAT).strftime("%Y-%m")


def usage_name(period: str, counter: str) -> str:
    return f"usage#{period}#{counter}"


def _rate_name(ref: str, category: Category, now: datetime) -> str:
    return f"rate#{ref}#{category.value}#{now.astimezone(EAT).strftime('%Y-%m-%dT%H')}"


@dataclass
class _Batch:
    """What one batch read, and what the batch itself adds as it is judged in order."""

    documents: dict[str, dict[str, Any]]
    added: Counter[str] = field(default_factory=Counter)

    def count(self, name: str) -> int:
        return int(self.documents.get(name, {}).get("count", 0)) + self.added[name]


class Guards:
    def __init__(
        self,
        store: GuardStore,
        limits: Limits,
        *,
        queue: OutboxQueue | None = None,
        agenda: Agenda | None = None,
        alert_recipients: Sequence[str] = (),
        language: str = "en",
        number_keys: NumberKeys | None = None,
    ) -> None:
        """`queue` takes the guards' own alerts (to ALERT_RECIPIENTS); `agenda` holds each alert
        storm's summary until its window closes; `number_keys` names each number's hourly counter by
        its keyed hash (the privacy key), so that the state table holds no digest anyone can reverse."""
        self._number_keys = number_keys
        self._store = store
        self._limits = limits
        self._queue = queue
        self._read: Mapping[str, dict[str, Any]] = {}
        self.storms = AlertStorms(store, agenda=agenda, alert_recipients=alert_recipients, language=language)
        self._pool: ThreadPoolExecutor | None = None
        self._alert_recipients = tuple(alert_recipients)
        self._language = language

    def _counted(self, recipient: Recipient) -> str:
        """What a number's counter is named by: its keyed hash's first 96 bits (`k:`), or, without a
        key or for a masked number (never sent), the ref itself."""
        if self._number_keys is None or not recipient.sendable:
            return recipient.ref
        return rate_ref(self._number_keys.of_recipient(recipient))

    def _alert(self, key: str, title: str, details: str) -> None:
        if self._queue is None or not self._alert_recipients:
            return
        from tuma.models.outbox import OutboxMessage

        vouch_for(self._store, key, datetime.now(UTC) + OWN_FOR)
        data = {"title": title, "details": details, "severity": "warning"}
        self._queue.put(
            OutboxMessage(
                idempotency_key=key,
                template="alert",
                data=data,
                source=OwnSource.GUARD,
                language=self._language,
            )
        )

    # -- the state ---------------------------------------------------------------------------------

    def limits(self, documents: Mapping[str, dict[str, Any]]) -> Limits:
        return self._limits.with_overrides(documents.get(CAPS, {}))

    def caps_for(self, category: Category, limits: Limits, now: datetime) -> list[Cap]:
        day, month = day_of(now), month_of(now)
        caps = []
        if category is Category.RECEIPT and limits.receipt_daily_parts:
            caps.append(Cap("receipt daily", limits.receipt_daily_parts, ("receipt",), day))
        elif limits.daily_parts:
            counters = ("other",) if limits.receipt_daily_parts else ("receipt", "other")
            caps.append(Cap("daily", limits.daily_parts, counters, day))
        if limits.monthly_parts:
            caps.append(Cap("monthly", limits.monthly_parts, ("receipt", "other"), month))
        return caps

    @staticmethod
    def _counter(category: Category) -> str:
        return "receipt" if category is Category.RECEIPT else "other"

    def _names(self, deliveries: Sequence[Delivery], now: datetime) -> list[str]:
        day, month = day_of(now), month_of(now)
        names = [CAPS, PAUSE] + [usage_name(p, c) for p in (day, month) for c in ("receipt", "other")]
        for delivery in deliveries:
            names.append(_rate_name(self._counted(delivery.recipient), Category(delivery.category), now))
            if delivery.source == OwnSource.GUARD:
                names.append(own_name(delivery.idempotency_key))
            if delivery.collapse is not None:
                names.append(collapse_name(delivery.collapse[0]))
        return names

    # -- judging a batch ---------------------------------------------------------------------------

    def prefetch(self, deliveries: Sequence[Delivery], now: datetime) -> Future[dict[str, dict[str, Any]]]:
        """Start the batch's one read now, in the background: it overlaps the claims' writes, so
        the guards add no round trip to a receipt's way (bench/latency.py)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guards")
        return self._pool.submit(self._store.read_many, self._names(deliveries, now))

    def judge(
        self,
        deliveries: Sequence[Delivery],
        now: datetime,
        prefetched: Future[dict[str, dict[str, Any]]] | None = None,
    ) -> list[Judged]:
        """`prefetched`: `prefetch` of these deliveries, or more (what the claims then kept)."""
        if not deliveries:
            return []
        documents = prefetched.result() if prefetched is not None else None
        batch = _Batch(
            documents if documents is not None else self._store.read_many(self._names(deliveries, now))
        )
        self._read = batch.documents  # what `record` counts from: the batch's one read
        limits = self.limits(batch.documents)
        paused = set(batch.documents.get(PAUSE, {}).get("categories", []))
        opened: dict[str, dict[str, Any]] = {}  # collapse windows this batch opened or changed
        judged = [
            self._verdict(d, batch=batch, limits=limits, paused=paused, now=now, opened=opened)
            for d in deliveries
        ]
        self.storms.save(opened, batch.documents)
        return judged

    def _verdict(
        self,
        delivery: Delivery,
        *,
        batch: _Batch,
        limits: Limits,
        paused: set[str],
        now: datetime,
        opened: dict[str, Any],
    ) -> Judged:
        """The first guard that holds the delivery back, in order; Tuma's own guard alerts pass."""
        category = Category(delivery.category)
        if delivery.source == OwnSource.GUARD:
            if own_name(delivery.idempotency_key) in batch.documents:
                return Judged(delivery, Verdict.SEND)
            # Anyone who can write to the outbox can write "source": "guard"; only Tuma vouches.
            log.warning(
                "%s claims to be a guard's own alert, and is not: guarded like any other",
                delivery.idempotency_key,
            )
        verdict = (
            self._paused(delivery, category, paused, limits)
            or self._collapsed(delivery, batch, limits, now, opened)
            or self._rated(delivery, category, batch, limits, now)
            or self._capped(delivery, category, batch, limits, now)
        )
        if verdict is not None:
            return verdict
        batch.added[_rate_name(self._counted(delivery.recipient), category, now)] += 1
        return Judged(delivery, Verdict.SEND)

    def _collapsed(
        self, delivery: Delivery, batch: _Batch, limits: Limits, now: datetime, opened: dict[str, Any]
    ) -> Judged | None:
        reason = self.storms.collapsed(delivery, batch.documents, limits.collapse_seconds, now, opened)
        return None if reason is None else Judged(delivery, Verdict.COLLAPSE, reason)

    def _paused(
        self, delivery: Delivery, category: Category, paused: set[str], limits: Limits
    ) -> Judged | None:
        if "all" in paused or category.value in paused:
            what = "everything" if "all" in paused else f"{category.value}s"
            wait = min(PAUSED_WAIT, limits.recheck_seconds)
            return Judged(
                delivery, Verdict.WAIT, f"waiting: {what} paused by an operator (tuma resume)", wait
            )
        return None

    def _rated(
        self, delivery: Delivery, category: Category, batch: _Batch, limits: Limits, now: datetime
    ) -> Judged | None:
        limit = limits.hourly.get(category, 0)
        if not limit or batch.count(_rate_name(self._counted(delivery.recipient), category, now)) < limit:
            return None
        what = {
            Category.RECEIPT: "receipts",
            Category.CODE: "one-time codes",
            Category.ALERT: "alerts",
            Category.MESSAGE: "messages",
        }[category]
        if category in (Category.CODE, Category.ALERT):
            return Judged(
                delivery, Verdict.REFUSE, f"rate limit: at most {limit} {what} an hour to one number"
            )
        nxt = (now.astimezone(EAT) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        return Judged(
            delivery,
            Verdict.WAIT,
            f"waiting: at most {limit} {what} an hour to one number; goes after {format_eat(nxt)[-5:]}",
            min(limits.recheck_seconds, max(10, int((nxt - now).total_seconds()))),
        )

    def _capped(
        self, delivery: Delivery, category: Category, batch: _Batch, limits: Limits, now: datetime
    ) -> Judged | None:
        parts = delivery.text.parts
        for cap in self.caps_for(category, limits, now):
            used = sum(batch.count(usage_name(cap.period, c)) for c in cap.counters)
            if used + parts > cap.limit:
                turns = "the month turns" if cap.name == "monthly" else "the day turns (East Africa Time)"
                self._once(
                    f"guard#reached#{cap.name}#{cap.period}",
                    f"Tuma: {cap.name} SMS cap reached",
                    f"{used} of {cap.limit} parts used ({cap.period}); messages wait until {turns} or the cap is raised",
                )
                return Judged(
                    delivery,
                    Verdict.WAIT,
                    f"waiting: {cap.name} parts cap reached ({used} of {cap.limit} used); goes when {turns} "
                    "or the cap is raised (tuma caps set)",
                    limits.recheck_seconds,
                )
        for cap in self.caps_for(category, limits, now):
            for counter in cap.counters:
                if counter == self._counter(category):
                    batch.added[usage_name(cap.period, counter)] += parts
        return None

    # -- after sending ------------------------------------------------------------------------------

    def record(self, sent: Sequence[Delivery], now: datetime) -> None:
        """What went counts: parts towards the caps (added atomically: they guard money), messages
        towards each number's hour (written as read plus sent, a few items a call: under concurrent
        senders a limit may let one or two more through, never fewer). From the batch's one read."""
        if not sent:
            return
        before = self._read
        usage: Counter[str] = Counter()
        rates: Counter[str] = Counter()
        for delivery in sent:
            category = Category(delivery.category)
            usage[usage_name(day_of(now), self._counter(category))] += delivery.text.parts
            usage[usage_name(month_of(now), self._counter(category))] += delivery.text.parts
            rates[_rate_name(self._counted(delivery.recipient), category, now)] += 1
        expires = int((now + timedelta(days=40)).timestamp())
        self._store.add(usage, expires)
        self._store.put_counts(
            {name: int(before.get(name, {}).get("count", 0)) + n for name, n in rates.items()},
            int((now + timedelta(hours=2)).timestamp()),
        )
        limits = self.limits(before)
        for category in {Category(d.category) for d in sent}:
            for cap in self.caps_for(category, limits, now):
                was = sum(
                    int(before.get(usage_name(cap.period, c), {}).get("count", 0)) for c in cap.counters
                )
                now_used = was + sum(usage[usage_name(cap.period, c)] for c in cap.counters)
                if was < WARN_AT * cap.limit <= now_used:
                    self._once(
                        f"guard#warned#{cap.name}#{cap.period}",
                        f"Tuma: {cap.name} SMS cap at 80%",
                        f"{now_used} of {cap.limit} parts used ({cap.period})",
                    )

    def _once(self, name: str, title: str, details: str) -> None:
        """One alert per cap and period, whichever sender crosses first."""
        if self._store.swap(name, None, {"title": title}):
            log.warning("%s: %s", title, details)
            self._alert(name, title, details)
