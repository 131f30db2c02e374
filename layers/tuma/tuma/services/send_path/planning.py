"""Plan: from an outbox message to deliveries (render, fold to GSM7, resolve each recipient).

Anything that can never be sent (no recipients, a bad template, an over-long text, an invalid or
masked number, a category the message cannot have) is settled here, with its reason, before any
money is spent. A plan also says who the message is for and of which category, which is all the next
step (tuma.services.send_path.scheduling) needs to hold it for later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tuma.formatting.gsm7 import SmsText, TextRejected, prepare
from tuma.formatting.phones import KENYA_ONLY, InvalidNumber, Recipient, RecipientKind, parse_recipient
from tuma.formatting.rendering import render
from tuma.models.kinds import KINDS, OPERATOR_KINDS, TemplateError
from tuma.models.ledger import NO_RECIPIENT_REF, LedgerEntry, Status
from tuma.models.outbox import OutboxMessage, Route
from tuma.models.privacy import MessageCategory, with_footer
from tuma.models.sending import Delivery, ProviderRoute, route_for
from tuma.models.templates import Catalog
from tuma.security.masking import mask, mask_codes

# Templates addressed to operators: with no `to`, they go to ALERT_RECIPIENTS.
ALERT_TEMPLATES = OPERATOR_KINDS  # for the business's own people (tuma.models.kinds)
HASHED_IS_TRANSACTIONAL = "a hashed number can receive only transactional texts (the provider's hashed route)"


@dataclass
class Plan:
    record_id: str
    message: OutboxMessage
    category: MessageCategory = MessageCategory.TRANSACTIONAL
    # The sendable recipients, each once: who a held message is recorded SCHEDULED for.
    recipients: list[Recipient] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    settled: list[LedgerEntry] = field(default_factory=list)

    def settle(self, ref: str, masked: str, status: Status, reason: str) -> None:
        self.settled.append(
            LedgerEntry(
                idempotency_key=self.message.idempotency_key,
                recipient_ref=ref,
                recipient=masked,
                status=status,
                template=self.message.template,
                source=self.message.source,
                reason=reason,
            )
        )

    def refuse(self, reason: str) -> Plan:
        """Every recipient settled REJECTED for one reason (the message itself cannot go)."""
        for recipient in self.recipients:
            self.settle(recipient.ref, recipient.masked, Status.REJECTED, reason)
        return self


class Planner:
    """The plan step: every message of a batch, planned with the batch's one catalog."""

    def __init__(
        self, *, max_parts: int, alert_recipients: Sequence[str] = (), countries: frozenset[int] = KENYA_ONLY
    ) -> None:
        self._max_parts = max_parts
        self._alert_recipients = tuple(alert_recipients)
        self._countries = countries

    def plan(self, messages: Mapping[str, OutboxMessage], catalog: Catalog) -> list[Plan]:
        return [
            plan_message(
                record_id,
                message,
                max_parts=self._max_parts,
                alert_recipients=self._alert_recipients,
                catalog=catalog,
                countries=self._countries,
            )
            for record_id, message in messages.items()
        ]


def plan_message(
    record_id: str,
    message: OutboxMessage,
    *,
    max_parts: int,
    alert_recipients: Sequence[str] = (),
    catalog: Catalog | None = None,
    countries: frozenset[int] = KENYA_ONLY,
) -> Plan:
    catalog = catalog or Catalog()
    kind = catalog.kind(message.template) if message.template else None
    plan = Plan(record_id, message, category_of(message, kind))
    plan.recipients = _recipients(plan, alert_recipients, catalog, countries)
    if not plan.recipients:
        return plan
    refused = _category_refusal(message, kind, plan.category)
    if refused:
        return plan.refuse(refused)
    try:
        text, template = _text(message, catalog, plan.category, max_parts)
    except (TemplateError, TextRejected) as exc:
        return plan.refuse(exc.reason)
    collapse, title = _collapse_of(kind, message)
    stored = _stored_text(message, kind, text)
    for recipient in plan.recipients:
        route = route_for(recipient, message.route)
        if plan.category is MessageCategory.PROMOTIONAL and route is ProviderRoute.HASHED:
            plan.settle(recipient.ref, recipient.masked, Status.REJECTED, HASHED_IS_TRANSACTIONAL)
            continue
        plan.deliveries.append(
            Delivery(
                record_id=record_id,
                idempotency_key=message.idempotency_key,
                recipient=recipient,
                text=text,
                route=route,
                template=template,
                source=message.source,
                requested=message.route,
                per_event=message.per_event,
                category=_category(kind, route),
                collapse=collapse,
                collapse_title=title,
                message_category=plan.category,
                stored_text=stored,
            )
        )
    return plan


def category_of(message: OutboxMessage, kind: str | None) -> MessageCategory:
    """The message's own category, else its template kind's; a ready text is transactional."""
    if message.category is not None:
        return message.category
    found = KINDS.get(kind or "")
    return found.category if found else MessageCategory.TRANSACTIONAL


def _category_refusal(message: OutboxMessage, kind: str | None, category: MessageCategory) -> str | None:
    """Why a message cannot be of its category, if it cannot."""
    found = KINDS.get(kind or "")
    if category is MessageCategory.PROMOTIONAL:
        if kind in ALERT_TEMPLATES:
            return "alerts to the business's own people are transactional; they cannot be promotional"
        if message.route is Route.OTP:
            return "a promotion cannot use the OTP route (transactional only)"
    elif found is not None and found.category is MessageCategory.PROMOTIONAL:
        return f"a {kind} template is promotional; it cannot be sent as transactional"
    return None


def _text(
    message: OutboxMessage, catalog: Catalog, category: MessageCategory, max_parts: int
) -> tuple[SmsText, str | None]:
    """The SMS as it goes (a promotion with its opt-out footer), and the template it came from."""
    body, template = _body(message, catalog)
    if category is MessageCategory.PROMOTIONAL:
        body = with_footer(body, catalog.footer)
    return prepare(body, max_parts=max_parts), template


def _stored_text(message: OutboxMessage, kind: str | None, text: SmsText) -> str | None:
    """What the ledger keeps when it must differ from what is sent: a one-time code's digits masked."""
    if message.route is Route.OTP or (kind in KINDS and KINDS[kind].secret):
        return mask_codes(text.text, tuple(str(v) for k, v in message.data.items() if k == "code"))
    return None


def _category(kind: str | None, route: ProviderRoute) -> str:
    """The guards' category (tuma.services.guards.Category): a receipt is a receipt whatever its route."""
    found = KINDS.get(kind or "")
    if found is not None and found.guard != "message":
        return found.guard
    return "code" if route is not ProviderRoute.SMS else "message"


def _collapse_of(kind: str | None, message: OutboxMessage) -> tuple[tuple[str, str] | None, str]:
    """What makes a repeat of an alert (its host and title) or of an alarm (its name), and its state."""
    data = message.data
    if kind == "alert":
        title, host = str(data.get("title", "")).strip(), str(data.get("host", "")).strip()
        shown = f"{title} on {host}" if host else title
        return (f"alert|{host.lower()}|{title.lower()}", "alert"), shown
    if kind in ("alarm", "alarm_ok"):
        alarm = str(data.get("alarm", "")).strip()
        return (f"alarm|{alarm}", "OK" if kind == "alarm_ok" else "ALARM"), alarm
    return None, ""


def _recipients(
    plan: Plan, alert_recipients: Sequence[str], catalog: Catalog, countries: frozenset[int] = KENYA_ONLY
) -> list[Recipient]:
    """The sendable recipients, each once; the others are settled with their reason."""
    raw_recipients: Sequence[str] = plan.message.to
    template = plan.message.template
    if not raw_recipients and template is not None and catalog.kind(template) in ALERT_TEMPLATES:
        raw_recipients = alert_recipients
    if not raw_recipients:
        plan.settle(
            NO_RECIPIENT_REF, "-", Status.REJECTED, "no recipients (and no ALERT_RECIPIENTS for an alert)"
        )
        return []
    recipients: dict[str, Recipient] = {}
    for raw in raw_recipients:
        recipient = _recipient(plan, str(raw), countries)
        if recipient is not None and recipient.ref not in recipients:
            recipients[recipient.ref] = recipient
    return list(recipients.values())


def _recipient(plan: Plan, raw: str, countries: frozenset[int]) -> Recipient | None:
    """One number, if a message can go to it; otherwise it is settled with the reason."""
    try:
        recipient = parse_recipient(raw, countries)
    except InvalidNumber as exc:
        bad = Recipient(RecipientKind.MASKED, raw)  # only for a stable ref and a masked copy
        plan.settle(bad.ref, mask(raw)[:32], Status.REJECTED, f"invalid number: {exc.reason}")
        return None
    if not recipient.sendable:
        if recipient.ref not in {entry.recipient_ref for entry in plan.settled}:
            plan.settle(
                recipient.ref, recipient.masked, Status.UNDELIVERABLE, "number is masked at the source"
            )
        return None
    return recipient


def _body(message: OutboxMessage, catalog: Catalog) -> tuple[str, str | None]:
    """The text to send, and the template it came from (a receipt's is chosen by the routing rules)."""
    if message.text is not None:
        return message.text, None
    assert message.template is not None  # guaranteed by OutboxMessage
    short_code = message.data.get("short_code")
    template, language = catalog.routed(
        message.template,
        message.source,
        None if short_code is None else str(short_code),
        message.language,
    )
    kind = KINDS.get(catalog.kind(template) or "")
    data = kind.data(message.data, catalog.identity) if kind else {**catalog.identity, **message.data}
    return render(template, data, language, catalog.sources), template
