"""What the console reads and does, against a deployed stack or the local topology, with the
operator's own AWS credentials. Pages never see a full phone number: numbers typed by the operator
are turned into their digest (the ledger's key for them) here, and only masked ones come back."""

from __future__ import annotations

import base64
import json
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tuma.adapters.dynamodb_agenda import DynamoDBAgenda
from tuma.adapters.dynamodb_ledger_views import LedgerViews
from tuma.adapters.dynamodb_templates import DynamoDBTemplates
from tuma.adapters.ledger_table import PAYMENT_RECORD, STATUS_ANSWER_RECORD
from tuma.formatting.clock import EAT
from tuma.formatting.phones import InvalidNumber, parse_recipient
from tuma.models.ledger import CancelOutcome, LedgerEntry, Status, confirmation_of
from tuma.models.outbox import OutboxMessage
from tuma.models.sources import OwnSource
from tuma.security.masking import mask
from tuma.services.templates import TemplateEditor

from tuma_cli.stack import Stack, Unconfigured

if TYPE_CHECKING:
    from tuma.models.daraja import Registration
    from tuma.security.number_keys import NumberKeys
    from tuma.services.finance import DayView
    from tuma.services.privacy import Privacy

    from tuma_cli.guards_cli import Switches

PAGE = 50
# How the dead letters went back (the console says it): by SQS's message move task, or one by one.
REDRIVEN = {
    True: "SQS moves them (its message move task): each keeps its age, and goes within minutes",
    False: "moved one by one (the local emulator has no message move task)",
}


class ConsoleError(Exception):
    """Something the operator should read on the page (AWS refused, nothing configured...)."""


@dataclass
class Page:
    entries: list[LedgerEntry]
    cursor: str | None  # the next page, or None at the end


@dataclass
class Story:
    key: str
    entries: list[LedgerEntry]
    sources: list[str] = field(default_factory=list)
    payer_known: bool = False  # a number to resend to without asking for one
    scheduled: dict[str, Any] | None = None
    resends: list[str] = field(default_factory=list)
    resend_of: str | None = None
    status_answer: dict[str, Any] | None = None  # M-Pesa's latest Transaction Status answer
    confirmation: str | None = None  # M-Pesa's own record: CONFIRMED, UNCONFIRMED, or not known


@dataclass
class Health:
    credit: list[tuple[str, float]]  # (hour, credit), oldest first
    day_counts: Counter[str]
    failures: Counter[str]
    waiting: int
    dead_letters: int
    by_callback: int
    by_polling: int


class Backend:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.ledger = LedgerViews(stack.client("dynamodb"), stack.table("ledger"))
        self.agenda = DynamoDBAgenda(stack.client("dynamodb"), stack.table("ledger"))
        self._sqs = stack.client("sqs")
        self._cloudwatch = stack.client("cloudwatch")
        self.editor = TemplateEditor(
            DynamoDBTemplates(stack.client("dynamodb"), stack.table("templates"), cache_seconds=0),
            max_parts=3,
        )
        self._number_keys: NumberKeys | None = None

    # -- where the queues are --------------------------------------------------------------------

    def _queue(self, name: str) -> str:
        url = self.stack.queue_url(name, f"{name}Url")  # OutboxQueueUrl, OutboxDeadLetterQueueUrl
        if url is None:
            raise ConsoleError(f"the stack has no {name}Url output")
        return url

    # -- messages --------------------------------------------------------------------------------

    def page(self, day: str, status: str | None, source: str | None, cursor: str | None) -> Page:
        start = json.loads(base64.urlsafe_b64decode(cursor)) if cursor else None
        entries, last = self.ledger.by_day(
            day, limit=PAGE, start=start, status=status or None, source=source or None
        )
        token = base64.urlsafe_b64encode(json.dumps(last).encode()).decode() if last else None
        return Page(entries, token)

    def search(self, query: str) -> tuple[list[LedgerEntry], str]:
        """By key (as typed, then upper-cased: receipt numbers), else by phone number. Answers what
        was found and how the query may be shown (a number masked)."""
        from tuma.services.lookup import by_number, keys_for

        text = query.strip()
        for key in keys_for(text):
            found = self.ledger.get(key)
            if found:
                return found, key
        try:
            recipient = parse_recipient(text)
        except InvalidNumber:
            return [], text[:64]
        return by_number(self.ledger.by_recipient, self.number_keys(), recipient), recipient.masked

    def story(self, key: str) -> Story:
        entries, records = self.ledger.everything(key)
        story = Story(key, entries)
        for record in records:
            ref = str(record["recipient_ref"])
            if ref == "#payment":
                story.sources = sorted(record.get("sources", []))
                story.payer_known = bool(record.get("payer"))
                found = confirmation_of(record)
                story.confirmation = found.value if found else None
            elif ref == "#scheduled":
                story.scheduled = record
            elif ref.startswith("#resent#"):
                story.resends.append(str(record["resend"]))
            elif ref == "#resend-of":
                story.resend_of = str(record["resend_of"])
            elif ref == STATUS_ANSWER_RECORD:
                story.status_answer = record
        return story

    # -- payments and M-Pesa -----------------------------------------------------------------------

    def payments(self, day: str) -> DayView:
        from datetime import date

        from tuma_cli.payments_cli import view

        try:
            return view(self.stack, date.fromisoformat(day))
        except ValueError:
            raise ConsoleError(f"not a day: {day[:20]!r} (YYYY-MM-DD)") from None

    def ask_mpesa(self, key: str) -> Registration:
        """Transaction Status for a receipt number; M-Pesa's answer comes later, to the webhooks."""
        from tuma.models.daraja import DarajaFailure

        from tuma_cli.daraja_cli import connect as daraja

        try:
            connection = daraja(self.stack)
        except Unconfigured as exc:
            raise ConsoleError(str(exc)) from None
        payment = self.ledger.record(key, PAYMENT_RECORD) or {}
        short_code = str(payment.get("short_code") or connection.credentials.short_codes[0])
        from tuma.services.status_queries import StatusQueries

        try:
            return StatusQueries(connection.client, self.ledger).ask(
                key, short_code, connection.urls.status_result
            )
        except DarajaFailure as failure:
            raise ConsoleError(f"Daraja did not take the question: {failure.description}") from None

    def resend(self, key: str, recipient_ref: str, number: str | None) -> str:
        """The same text again under a new key linked to the old one; to the number typed, or to
        the payer's number the payment's record keeps."""
        entry = next((e for e in self.ledger.get(key) if e.recipient_ref == recipient_ref), None)
        if entry is None or not entry.text:
            raise ConsoleError("that message has no text to resend (it was never rendered)")
        if number:
            try:
                to = parse_recipient(number).value
            except InvalidNumber as exc:
                raise ConsoleError(f"that number cannot be used: {exc.reason}") from None
        else:
            record = self.ledger.record(key, PAYMENT_RECORD) or {}
            if not record.get("payer"):
                raise ConsoleError("Tuma does not keep this number: type the number to resend to")
            to = str(record["payer"])
        resend_key = f"{key}~resend-{secrets.token_hex(3)}"[:200]
        message = OutboxMessage(
            idempotency_key=resend_key, to=(to,), text=entry.text, source=OwnSource.CONSOLE_RESEND
        )
        self._sqs.send_message(QueueUrl=self._queue("OutboxQueue"), MessageBody=message.to_json())
        self.ledger.note_resend(key, resend_key, datetime.now(UTC))
        return resend_key

    def cancel(self, key: str) -> CancelOutcome:
        return self.agenda.cancel(key)

    # -- health ------------------------------------------------------------------------------------

    def switches(self) -> Switches:
        from tuma_cli.guards_cli import Switches

        return Switches(self.stack)

    def number_keys(self) -> NumberKeys:
        """The stack's keyed hash of numbers (the privacy key read at the first search by number)."""
        if self._number_keys is None:
            from tuma_cli.privacy_cli import number_keys_of

            self._number_keys = number_keys_of(self.stack)
        return self._number_keys

    def privacy(self) -> Privacy:
        """The suppression list and consents; a ConsoleError when this stack has none."""
        from tuma_cli.privacy_cli import privacy_of

        if "privacy" not in self.stack.tables:
            raise ConsoleError("this stack has no privacy table: redeploy it with this version of Tuma")
        return privacy_of(self.stack)

    def guards(self) -> dict[str, Any] | None:
        """Caps, today's parts and any pause; None when this stack keeps no state table."""
        if "state" not in self.stack.tables:
            return None
        return self.switches().show()

    def health(self, now: datetime | None = None) -> Health:
        now = now or datetime.now(UTC)
        entries = self._last_day(now)
        counts = Counter(e.status.value for e in entries)
        failed = (Status.FAILED, Status.REJECTED, Status.UNDELIVERABLE, Status.EXPIRED)
        failures = Counter(
            e.delivery_status or e.reason or e.status.value for e in entries if e.status in failed
        )
        return Health(
            credit=self._credit(now),
            day_counts=counts,
            failures=failures,
            waiting=self._depth("OutboxQueue"),
            dead_letters=self._depth("OutboxDeadLetterQueue"),
            by_callback=sum(1 for e in entries if e.final_via == "callback"),
            by_polling=sum(1 for e in entries if e.final_via == "polling"),
        )

    def _last_day(self, now: datetime, most: int = 20_000) -> list[LedgerEntry]:
        """The entries changed in the 24 hours to `now` (of the East Africa days they span)."""
        since = now - timedelta(hours=24)
        entries: list[LedgerEntry] = []
        for day in sorted({since.astimezone(EAT).date().isoformat(), now.astimezone(EAT).date().isoformat()}):
            start = None
            while True:
                page, start = self.ledger.by_day(day, limit=500, start=start)
                entries += [e for e in page if e.updated_at >= since]
                if start is None or len(entries) > most:
                    break
        return entries

    def _credit(self, now: datetime) -> list[tuple[str, float]]:
        answer = self._cloudwatch.get_metric_statistics(
            Namespace="Tuma",
            MetricName="ProviderCredit",
            Dimensions=[{"Name": "service", "Value": "tuma"}],
            StartTime=now - timedelta(days=7),
            EndTime=now,
            Period=3600,
            Statistics=["Minimum"],
        )
        points = sorted(answer.get("Datapoints", []), key=lambda p: p["Timestamp"])
        return [(p["Timestamp"].astimezone(EAT).strftime("%d/%m %H:%M"), float(p["Minimum"])) for p in points]

    def _depth(self, name: str) -> int:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._queue(name),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def redrive(self) -> tuple[int, bool]:
        """Dead letters back to the outbox; nothing already sent goes again (its claims remember it),
        nothing to an erased person (the sender's screen). How many, and whether SQS's own message move
        task moved them: it keeps each message's age, so a redrive never restarts the 14 days a
        message (and the number in it) may live. moto has no move task: locally they go one by one."""
        source, target = self._queue("OutboxDeadLetterQueue"), self._queue("OutboxQueue")
        if self.stack.endpoint is None:
            arns = [
                self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                    "QueueArn"
                ]
                for url in (source, target)
            ]
            waiting = self._depth("OutboxDeadLetterQueue")
            self._sqs.start_message_move_task(SourceArn=arns[0], DestinationArn=arns[1])
            return waiting, True
        return self._move_one_by_one(source, target), False

    def _move_one_by_one(self, source: str, target: str) -> int:
        moved = 0
        while True:
            messages = self._sqs.receive_message(
                QueueUrl=source, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return moved
            for message in messages:
                self._sqs.send_message(QueueUrl=target, MessageBody=message["Body"])
                self._sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
                moved += 1


def masked(value: str) -> str:
    return mask(value)


def connect(stack: Stack) -> Backend:
    try:
        return Backend(stack)
    except Unconfigured as exc:
        raise ConsoleError(str(exc)) from None
