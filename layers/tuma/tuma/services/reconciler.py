"""What is due, done on a schedule: scheduled messages released to the outbox, and delivery reports
asked for (getdlr) where the provider's callback never came.

A sent message is first asked about `first_check` after it went, then ever less often (doubling, up
to `max_interval`); "no report yet" (1008, 1009) is just that. After `give_up_after` it is EXPIRED,
with the reason. A report that arrives by callback meanwhile ends the checks; a report never moves
a status backwards. The provider is asked at most `max_calls` times a run, `rate` times a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tuma.models.ledger import DeliveryUpdate, DueCheck, ReportOutcome
from tuma.models.outbox import OutboxMessage
from tuma.models.provider_answers import DeliveryReport, ProviderError
from tuma.ports import Agenda, Ledger, MetricsSink, Migration, OutboxQueue
from tuma.services.delivery_reports import outcome_of

if TYPE_CHECKING:
    from tuma.services.privacy import Privacy
    from tuma.services.retention import RetentionSweep

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Patience:
    first_check: timedelta = timedelta(minutes=2)
    max_interval: timedelta = timedelta(hours=2)
    give_up_after: timedelta = timedelta(hours=72)
    max_calls: int = 200  # provider calls per run
    rate: float = 5.0  # provider calls per second

    def next_check(self, check: DueCheck, now: datetime) -> datetime:
        interval: timedelta = min(self.max_interval, self.first_check * (2 ** (check.attempts + 1)))
        return now + interval


@dataclass
class RunReport:
    released: int = 0
    asked: int = 0
    final_by_polling: int = 0
    not_yet: int = 0
    expired: int = 0
    errors: int = 0
    redacted: int = 0  # records whose personal data the retention schedule removed
    migrated: int = 0  # entries an earlier version wrote, brought up to this one's layout
    seconds_to_final: list[float] = field(default_factory=list)


class Reconciler:
    def __init__(
        self,
        ledger: Ledger,
        agenda: Agenda,
        # getdlr per provider: a report is asked of the provider that carried the message.
        reports: Mapping[str, Callable[[str], DeliveryReport | None]],
        outbox: OutboxQueue,
        metrics: MetricsSink,
        *,
        patience: Patience | None = None,
        sleep: Callable[[float], None] = time.sleep,
        time_left: Callable[[], float] | None = None,
        privacy: Privacy | None = None,
        retention: RetentionSweep | None = None,
        migrations: tuple[Migration, ...] = (),
    ) -> None:
        """`privacy`: where a report that the number blocked the sender puts it (None: nowhere).
        `retention`: the sweep that removes personal data past RetentionDays (None: keep it).
        `migrations`: what an upgrade left to do on stored data, a little each run."""
        self._migrations = migrations
        self._privacy = privacy
        self._retention = retention
        self._ledger = ledger
        self._agenda = agenda
        self._reports = reports
        self._outbox = outbox
        self._metrics = metrics
        self._patience = patience or Patience()
        self._sleep = sleep
        self._time_left = time_left

    def run(self, now: datetime) -> RunReport:
        report = RunReport()
        self._release(now, report)
        self._check(now, report)
        # Last, and only with time to spare: sending and delivery truth come first.
        if self._retention is not None and self._time_to_spare():
            report.redacted = self._retention.run()
        for migration in self._migrations:
            if self._time_to_spare():
                report.migrated += migration.run()
        for name, value in (
            ("MessagesReleased", report.released),
            ("DeliveryReportsByPolling", report.final_by_polling),
            ("MessagesExpired", report.expired),
            ("DeliveryChecksNotYet", report.not_yet),
            ("RecordsRedacted", report.redacted),
        ):
            if value:
                self._metrics.count(name, value)
        for seconds in report.seconds_to_final:
            self._metrics.measure("SecondsToFinalStatus", seconds)
        return report

    def _time_to_spare(self) -> bool:
        return self._time_left is None or self._time_left() > 15

    def _release(self, now: datetime, report: RunReport) -> None:
        for message in self._agenda.due_messages(now, 100):
            if not self._agenda.release(message):
                continue  # cancelled, or released by an overlapping run
            self._outbox.put(OutboxMessage.model_validate_json(message.body))
            report.released += 1

    def _check(self, now: datetime, report: RunReport) -> None:
        patience = self._patience
        gap = 1.0 / patience.rate if patience.rate > 0 else 0.0
        for check in self._agenda.due_checks(now, patience.max_calls):
            if self._time_left is not None and self._time_left() < 5:
                return  # the rest waits for the next run
            if now - check.sent_at >= patience.give_up_after:
                hours = patience.give_up_after.total_seconds() / 3600
                if self._ledger.expire(check, f"no delivery report within {hours:.0f} hours"):
                    report.expired += 1
                continue
            if report.asked:
                self._sleep(gap)
            report.asked += 1
            ask = self._reports.get(check.provider)
            if ask is None:  # the secondary was removed from the configuration since
                report.errors += 1
                log.warning(
                    "no %s provider configured to ask about %s", check.provider, check.provider_message_id
                )
                self._agenda.reschedule_check(check, patience.next_check(check, now))
                continue
            try:
                dlr = ask(check.provider_message_id)
            except ProviderError as exc:
                report.errors += 1
                log.warning("getdlr for %s failed: %s", check.provider_message_id, exc.description)
                self._agenda.reschedule_check(check, patience.next_check(check, now))
                continue
            if dlr is None or not dlr.status:
                report.not_yet += 1
                self._agenda.reschedule_check(check, patience.next_check(check, now))
                continue
            self._apply(check, dlr, now, report)

    def _apply(self, check: DueCheck, dlr: DeliveryReport, now: datetime, report: RunReport) -> None:
        outcome = outcome_of(dlr.status)
        update = DeliveryUpdate(
            provider_message_id=check.provider_message_id,
            delivery_status=" ".join(dlr.status.split())[:200],
            status=outcome.status,
            rank=outcome.rank,
            reported_at=dlr.delivered_at,
            description=dlr.status[:200],
            kind=outcome.kind.value,
            via="polling",
            provider=check.provider,
            opted_out=outcome.opted_out,
            entry=(check.idempotency_key, check.recipient_ref),
        )
        applied = self._ledger.apply_delivery(update)
        if update.opted_out and applied is ReportOutcome.APPLIED and self._privacy is not None:
            recipients = self._ledger.recipients_of(check.provider_message_id, check.provider, update.entry)
            if self._privacy.opted_out(recipients, update.delivery_status):
                self._metrics.count("NumbersOptedOut")
        if update.final:
            self._agenda.drop_check(check)
            if applied is ReportOutcome.APPLIED:
                report.final_by_polling += 1
                report.seconds_to_final.append((now - check.sent_at).total_seconds())
        else:
            self._agenda.reschedule_check(check, self._patience.next_check(check, now))
