"""A message's story, as its sender and an operator ask for it: every recipient of a key, where each
stands and how that was learnt. Numbers are masked; the texts stay in the ledger."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tuma.models.ledger import LedgerEntry

if TYPE_CHECKING:
    from tuma.formatting.phones import Recipient
    from tuma.security.number_keys import NumberKeys


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def recipient_view(entry: LedgerEntry, *, with_text: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "idempotency_key": entry.idempotency_key,
        "recipient": entry.recipient,
        "status": entry.status.value,
        "reason": entry.reason,
        "parts": entry.parts,
        "route": entry.route,
        "template": entry.template,
        "source": entry.source,
        "provider_message_id": entry.provider_message_id,
        "delivery_status": entry.delivery_status,
        "scheduled_for": _time(entry.scheduled_for),
        "queued_at": _time(entry.queued_at),
        "sent_at": _time(entry.sent_at),
        "final_at": _time(entry.final_at),
        "final_via": entry.final_via,
        "updated_at": _time(entry.updated_at),
    }
    if with_text:
        view["text"] = entry.text
    return view


def keys_for(query: str) -> list[str]:
    """The ledger keys an operator's query may name, in the order to try them: as typed, upper-cased
    (receipt numbers), and an STK Push's CheckoutRequestID, whose payment, when it was not completed,
    is recorded under `stk:<CheckoutRequestID>` (all customer care has for it)."""
    text = query.strip()
    if not text:
        return []
    return list(dict.fromkeys((text, text.upper(), f"stk:{text}")))


def by_number(
    by_recipient: Callable[[str], list[LedgerEntry]], keys: NumberKeys, recipient: Recipient
) -> list[LedgerEntry]:
    """Every entry to a number: sent to it or to Safaricom's hash of it, named by its keyed hash, or
    by the unkeyed digest before 0.3.0."""
    from tuma.security.number_keys import person_refs

    if not recipient.sendable:
        return by_recipient(recipient.ref)
    refs = person_refs(keys.of_recipient(recipient), recipient.digest)
    return [entry for ref in refs for entry in by_recipient(ref)]


def story(entries: Sequence[LedgerEntry], *, with_text: bool = False) -> list[dict[str, Any]]:
    return [recipient_view(e, with_text=with_text) for e in sorted(entries, key=lambda e: e.recipient)]
