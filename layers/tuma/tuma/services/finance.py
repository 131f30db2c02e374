"""The finance view: did every payment of the day get its receipt?

One row per payment Tuma learnt that day (its record in the ledger), with how it was learnt and its
receipt's status; with Pull configured, M-Pesa's own list of the day is the reference, so a payment
M-Pesa has and Tuma never saw is listed too. Totals by receipt status and by how learnt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from tuma.models.ledger import LedgerEntry, Status, confirmation_of
from tuma.models.pull import PulledTransaction
from tuma.models.sources import PaymentSource

NEVER_SEEN = "never seen by Tuma"
NO_RECEIPT_YET = "no receipt yet"


@dataclass(frozen=True)
class PaymentRow:
    receipt: str
    amount: str
    currency: str
    short_code: str
    account: str
    learnt_by: str  # callback, pull, status query, your system; or NEVER_SEEN
    sources: tuple[str, ...]
    receipt_status: str  # the receipt's ledger status, or NO_RECEIPT_YET / NEVER_SEEN
    recipient: str  # masked
    paid_at: str
    in_mpesa: bool | None  # listed by M-Pesa's Pull (None: M-Pesa's list not read)
    # M-Pesa's own record of a callback's payment: CONFIRMED, UNCONFIRMED (the pull read past it
    # twice and found nothing: check it before handing over goods), or "-" (not known either way).
    confirmation: str = "-"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DayView:
    day: str
    rows: list[PaymentRow] = field(default_factory=list)
    mpesa_read: bool = False  # M-Pesa's list of the day was read and compared
    mpesa_note: str | None = None  # why it was not, when it was not

    @property
    def by_status(self) -> Counter[str]:
        return Counter(row.receipt_status for row in self.rows)

    @property
    def by_learnt(self) -> Counter[str]:
        return Counter(row.learnt_by for row in self.rows)

    @property
    def total_amount(self) -> Decimal:
        total = Decimal(0)
        for row in self.rows:
            try:
                total += Decimal(row.amount)
            except (InvalidOperation, ValueError):
                continue
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "payments": [row.as_dict() for row in self.rows],
            "totals": {
                "payments": len(self.rows),
                "amount": str(self.total_amount),
                "by_receipt_status": dict(sorted(self.by_status.items())),
                "by_learnt": dict(sorted(self.by_learnt.items())),
            },
            "mpesa_compared": self.mpesa_read,
            "mpesa_note": self.mpesa_note,
        }


def _learnt_by(record: Mapping[str, Any]) -> str:
    first = str(record.get("first_source") or "")
    sources = sorted(record.get("sources") or [])
    label = first or (sources[0] if sources else "")
    try:
        return PaymentSource(label).learnt_by
    except ValueError:
        return label or "unknown"


def _receipt_status(entries: Sequence[LedgerEntry]) -> tuple[str, str]:
    if not entries:
        return NO_RECEIPT_YET, "-"
    best = max(entries, key=lambda e: (e.status.rank, e.status is Status.DELIVERED))
    return best.status.value, best.recipient


def day_view(
    day: str,
    records: Sequence[Mapping[str, Any]],
    entries: Mapping[str, Sequence[LedgerEntry]],
    pulled: Mapping[str, Sequence[PulledTransaction]] | None = None,
    mpesa_note: str | None = None,
) -> DayView:
    """`records`: the day's payment records; `entries`: each one's recipient entries; `pulled`: M-Pesa's
    list of the day by short code (None when it could not be read, `mpesa_note` saying why)."""
    view = DayView(day, mpesa_read=pulled is not None, mpesa_note=mpesa_note)
    listed = None if pulled is None else _listed(pulled)
    for record in sorted(records, key=_when):
        reference = str(record["idempotency_key"])
        view.rows.append(_known_row(record, entries.get(reference, ()), listed))
    view.rows.extend(_never_seen(pulled or {}, {row.receipt for row in view.rows}))
    return view


def _listed(pulled: Mapping[str, Sequence[PulledTransaction]]) -> set[str]:
    return {t.key() for rows in pulled.values() for t in rows if t.is_payment}


def _never_seen(pulled: Mapping[str, Sequence[PulledTransaction]], known: set[str]) -> list[PaymentRow]:
    """The payments M-Pesa lists that Tuma never saw, each once."""
    rows: dict[str, PaymentRow] = {}
    for short_code, transactions in pulled.items():
        for transaction in transactions:
            key = transaction.key()
            if transaction.is_payment and key not in known and key not in rows:
                rows[key] = _unseen_row(short_code, transaction)
    return list(rows.values())


def _when(record: Mapping[str, Any]) -> str:
    return str(record.get("paid_at") or record.get("first_seen") or "")


def _known_row(
    record: Mapping[str, Any], entries: Sequence[LedgerEntry], listed: set[str] | None
) -> PaymentRow:
    """A payment Tuma learnt; `listed`: the receipts in M-Pesa's list (None: the list was not read)."""
    reference = str(record["idempotency_key"])
    status, recipient = _receipt_status(entries)
    return PaymentRow(
        receipt=reference,
        amount=str(record.get("amount") or ""),
        currency=str(record.get("currency") or "KES"),
        short_code=str(record.get("short_code") or ""),
        account=str(record.get("account") or ""),
        learnt_by=_learnt_by(record),
        sources=tuple(sorted(record.get("sources") or [])),
        receipt_status=status,
        recipient=recipient,
        paid_at=_when(record),
        in_mpesa=None if listed is None else reference in listed,
        confirmation=(found.value if (found := confirmation_of(record)) else "-"),
    )


def _unseen_row(short_code: str, transaction: PulledTransaction) -> PaymentRow:
    """A payment M-Pesa lists and Tuma never saw."""
    return PaymentRow(
        receipt=transaction.key(),
        amount=str(transaction.amount or ""),
        currency="KES",
        short_code=short_code,
        account=transaction.bill_reference or "",
        learnt_by=NEVER_SEEN,
        sources=(),
        receipt_status=NEVER_SEEN,
        recipient="-",
        paid_at=transaction.trx_date or "",
        in_mpesa=True,
    )
