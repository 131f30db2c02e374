"""Planning: from an outbox message to deliveries (render, fold to GSM7, resolve each recipient).

Anything that can never be sent (no recipients, a bad template, an over-long text, an invalid or
masked number) is settled here, with its reason, before any money is spent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from tuma.formatting.gsm7 import SmsText, TextRejected, prepare
from tuma.formatting.phones import KENYA_ONLY, InvalidNumber, Recipient, RecipientKind, parse_recipient
from tuma.formatting.rendering import render
from tuma.models.kinds import KINDS, OPERATOR_KINDS, TemplateError
from tuma.models.ledger import NO_RECIPIENT_REF, LedgerEntry, Status
from tuma.models.outbox import OutboxMessage, Route
from tuma.models.privacy import MessageCategory, with_footer
from tuma.models.templates import Catalog
from tuma.security.masking import mask, mask_codes
from tuma.services.templates import routed

# Templates addressed to operators: with no `to`, they go to ALERT_RECIPIENTS.
ALERT_TEMPLATES = OPERATOR_KINDS  # for the business's own people (tuma.models.kinds)


class ProviderRoute(StrEnum):
    """Which of the provider's send endpoints carries a delivery (stored as the ledger's `route`)."""

    SMS = "sms"  # sendbulk / sendsms
    OTP = "otp"  # sendotp, the transactional route
    HASHED = "hashed"  # sendotp with a hashed Safaricom MSISDN


# The claim of a message deduplicated by its event (a receipt): one per key, whoever it goes to.
EVENT_CLAIM = "#event"
# How good a number is for reaching a payer: the number itself, then Safaricom's hash of it.
RANK = {RecipientKind.MSISDN: 2, RecipientKind.HASHED: 1, RecipientKind.MASKED: 0}


@dataclass(frozen=True)
class Delivery:
    record_id: str
    idempotency_key: str
    recipient: Recipient
    text: SmsText
    route: ProviderRoute
    template: str | None
    source: str | None
    requested: Route = Route.SMS
    per_event: bool = False
    pinned: str | None = None  # the provider an earlier, unanswered attempt went to
    # For the guards (tuma.services.guards): what kind of message this is, and for an alert or an
    # alarm what makes a repeat of it (its collapse key and state) and how an operator knows it.
    category: str = "message"
    collapse: tuple[str, str] | None = None
    collapse_title: str = ""
    # Transactional or promotional (tuma.services.privacy): what the suppression list, consent and the
    # promotional sender ID are judged by.
    message_category: MessageCategory = MessageCategory.TRANSACTIONAL
    # What the ledger keeps of the text when it differs from what is sent: a one-time code's digits
    # masked (the OTP route, a template kind for codes), so that whoever reads the ledger cannot use it.
    stored_text: str | None = None

    @property
    def claim(self) -> tuple[str, str]:
        """What is claimed before sending, so that it is sent once."""
        return (self.idempotency_key, EVENT_CLAIM if self.per_event else self.recipient.ref)

    def to(self, recipient: Recipient) -> Delivery:
        """The same message for another recipient (a better number for the same payer)."""
        return replace(self, recipient=recipient, route=route_for(recipient, self.requested))

    def entry(self, status: Status, **fields: object) -> LedgerEntry:
        return LedgerEntry(
            idempotency_key=self.idempotency_key,
            recipient_ref=self.recipient.ref,
            recipient=self.recipient.masked,
            status=status,
            template=self.template,
            route=self.route.value,
            source=self.source,
            parts=self.text.parts,
            text=self.text.text if self.stored_text is None else self.stored_text,
            **fields,  # type: ignore[arg-type]
        )


@dataclass
class Plan:
    message: OutboxMessage
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


def route_for(recipient: Recipient, requested: Route) -> ProviderRoute:
    if recipient.kind is RecipientKind.HASHED:
        return ProviderRoute.HASHED
    return ProviderRoute.OTP if requested is Route.OTP else ProviderRoute.SMS


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
    plan = Plan(message)
    recipients = _recipients(plan, alert_recipients, catalog, countries)
    if not recipients:
        return plan
    kind = catalog.kind(message.template) if message.template else None
    category = category_of(message, kind)
    refused = _category_refusal(message, kind, category)
    if refused:
        for recipient in recipients:
            plan.settle(recipient.ref, recipient.masked, Status.REJECTED, refused)
        return plan
    try:
        body, template = _body(message, catalog)
        if category is MessageCategory.PROMOTIONAL:
            body = with_footer(body, catalog.footer)
        text = prepare(body, max_parts=max_parts)
    except (TemplateError, TextRejected) as exc:
        for recipient in recipients:
            plan.settle(recipient.ref, recipient.masked, Status.REJECTED, exc.reason)
        return plan
    collapse, title = _collapse_of(kind, message)
    stored = None
    if message.route is Route.OTP or (kind in KINDS and KINDS[kind].secret):
        stored = mask_codes(text.text, tuple(str(v) for k, v in message.data.items() if k == "code"))
    for recipient in recipients:
        route = route_for(recipient, message.route)
        if category is MessageCategory.PROMOTIONAL and route is ProviderRoute.HASHED:
            plan.settle(
                recipient.ref,
                recipient.masked,
                Status.REJECTED,
                "a hashed number can receive only transactional texts (the provider's hashed route)",
            )
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
                message_category=category,
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


def plan_recipients(
    message: OutboxMessage, alert_recipients: Sequence[str], catalog: Catalog | None = None
) -> tuple[list[Recipient], list[LedgerEntry]]:
    """Who a message will go to, and the entries of those it never can: without rendering it."""
    plan = Plan(message)
    return _recipients(plan, alert_recipients, catalog or Catalog()), plan.settled


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
    recipients: list[Recipient] = []
    seen: set[str] = set()
    for raw in raw_recipients:
        try:
            recipient = parse_recipient(raw, countries)
        except InvalidNumber as exc:
            bad = Recipient(RecipientKind.MASKED, str(raw))  # only for a stable ref and a masked copy
            plan.settle(bad.ref, mask(str(raw))[:32], Status.REJECTED, f"invalid number: {exc.reason}")
            continue
        if recipient.ref in seen:
            continue
        seen.add(recipient.ref)
        if not recipient.sendable:
            plan.settle(
                recipient.ref, recipient.masked, Status.UNDELIVERABLE, "number is masked at the source"
            )
            continue
        recipients.append(recipient)
    return recipients


def _body(message: OutboxMessage, catalog: Catalog) -> tuple[str, str | None]:
    """The text to send, and the template it came from (a receipt's is chosen by the routing rules)."""
    if message.text is not None:
        return message.text, None
    assert message.template is not None  # guaranteed by OutboxMessage
    short_code = message.data.get("short_code")
    template, language = routed(
        catalog,
        message.template,
        message.source,
        None if short_code is None else str(short_code),
        message.language,
    )
    kind = KINDS.get(catalog.kind(template) or "")
    data = kind.data(message.data, catalog.identity) if kind else {**catalog.identity, **message.data}
    return render(template, data, language, catalog.sources), template
