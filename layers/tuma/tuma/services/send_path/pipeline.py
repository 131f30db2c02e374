"""The send path: a batch of outbox messages in, SMS out, every fate in the ledger.

It reads top-down, one named step per module, each testable alone:

1. read (`reading`): each record becomes an outbox message, or a recorded reason why it cannot;
2. plan (`planning`): render, fold to GSM7, resolve each recipient; what can never go is settled;
3. hold (`scheduling`): what is for later goes on the agenda, SCHEDULED;
4. address (`addressing`): one delivery per event (a receipt), to the best number known;
5. judge (`judging`): the people's wishes and the guards say what may go now, of what the claims
   (`claiming`: one claim per delivery, so that nothing is sent twice) kept; the judge has the
   claims made once its reads are under way, so that the two overlap;
6. send (`sending`): recorded QUEUED, then the provider in as few calls as it allows;
7. settle (`settling`): claims, ledger entries, guard counts, delivery-report checks, parking.

The batch (`batch.Batch`) carries what the steps decide about each record; its answer says which
records come back later, and after how long.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tuma.formatting.clock import now_utc
from tuma.formatting.phones import KENYA_ONLY
from tuma.models.ledger import Status
from tuma.models.sending import Delivery
from tuma.models.templates import Catalog
from tuma.ports import Agenda, Claims, Ledger, MetricsSink, OutboxQueue, Sender, TemplateSource
from tuma.services.send_path.addressing import Addresser
from tuma.services.send_path.batch import Batch, Inbound, RecordOutcome, RetryDelays
from tuma.services.send_path.claiming import Claimer
from tuma.services.send_path.judging import Judge
from tuma.services.send_path.planning import Plan, Planner
from tuma.services.send_path.reading import Reader
from tuma.services.send_path.scheduling import Scheduler
from tuma.services.send_path.sending import Transmitter
from tuma.services.send_path.settling import Settler

if TYPE_CHECKING:
    from tuma.models.privacy import SendWindow
    from tuma.services.guards import Guards
    from tuma.services.privacy import Privacy

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        sender: Sender,
        ledger: Ledger,
        claims: Claims,
        metrics: MetricsSink,
        *,
        max_parts: int = 3,
        alert_recipients: Sequence[str] = (),
        delays: RetryDelays | None = None,
        language: str = "en",
        templates: TemplateSource | None = None,
        identity: Mapping[str, str] | None = None,
        agenda: Agenda | None = None,
        first_check_seconds: int = 120,
        clock: Callable[[], datetime] = now_utc,
        guards: Guards | None = None,
        parking: OutboxQueue | None = None,
        countries: frozenset[int] = KENYA_ONLY,
        privacy: Privacy | None = None,
        window: SendWindow | None = None,
        footer: str | None = None,
    ) -> None:
        self._ledger = ledger
        self._sink = metrics
        self._templates = templates
        self._identity = {k: v for k, v in (identity or {}).items() if v}
        self._footer = footer
        delays = delays or RetryDelays()
        # Without an agenda nothing asks for delivery reports later.
        check_after = timedelta(seconds=first_check_seconds) if agenda is not None else None
        self._reader = Reader(language=language, windows=guards.storms.windows if guards else None)
        self._planner = Planner(max_parts=max_parts, alert_recipients=alert_recipients, countries=countries)
        self._scheduler = Scheduler(agenda, window=window, clock=clock)
        self._addresser = Addresser(ledger)
        self._claimer = Claimer(ledger, claims, delays=delays, check_after=check_after, clock=clock)
        self._judge = Judge(ledger, claims, privacy=privacy, guards=guards, clock=clock)
        self._transmitter = Transmitter(sender, ledger, clock=clock)
        self._settler = Settler(
            ledger,
            claims,
            delays=delays,
            agenda=agenda,
            check_after=check_after,
            guards=guards,
            parking=parking,
            clock=clock,
        )

    def dispatch(
        self, items: Sequence[Inbound], remaining_ms: Callable[[], int] | None = None
    ) -> list[RecordOutcome]:
        batch = Batch(items)
        try:
            self._run(batch, remaining_ms)
        finally:
            batch.tally.flush(self._sink)
        return batch.outcomes()

    def _run(self, batch: Batch, remaining_ms: Callable[[], int] | None) -> None:
        catalog = self._catalog()
        messages = self._reader.read(batch, catalog)
        plans = self._scheduler.hold(batch, self._planner.plan(messages, catalog))
        candidates = self._addresser.address(batch, self._admit(batch, plans))
        to_send = self._judge.judge(
            batch, candidates, claim=lambda: self._claimer.claim(batch, candidates, remaining_ms)
        )
        self._settler.settle(batch, self._transmitter.send(to_send))

    def _catalog(self) -> Catalog:
        """One snapshot of the templates for the whole batch: no message mixes two wordings."""
        catalog = replace(
            self._templates.catalog() if self._templates else Catalog(), identity=self._identity
        )
        return catalog if self._footer is None else replace(catalog, footer=self._footer)

    def _admit(self, batch: Batch, plans: Sequence[Plan]) -> list[Delivery]:
        """The deliveries of the plans sent now; what they can never send is recorded first, with
        what could not be read, in one write."""
        deliveries: list[Delivery] = []
        for plan in plans:
            batch.messages[plan.record_id] = plan.message
            batch.unsendable.extend(plan.settled)
            deliveries.extend(plan.deliveries)
        for entry in batch.unsendable:
            batch.tally.count(
                "MessagesUndeliverable" if entry.status is Status.UNDELIVERABLE else "MessagesRejected"
            )
            log.warning(
                "not sending %s to %s: %s",
                entry.idempotency_key,
                entry.recipient,
                entry.reason,
                extra={"idempotency_key": entry.idempotency_key, "status": entry.status.value},
            )
        if batch.unsendable:
            self._ledger.record_unsendable(batch.unsendable)
        return deliveries
