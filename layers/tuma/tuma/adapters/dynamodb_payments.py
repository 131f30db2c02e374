"""The payment records of the ledger's table (`#payment` beside each payment's receipt entries):
which sources reported a payment, the best number known for its payer, M-Pesa's confirmation of it,
a receipt held for that confirmation, and the Transaction Status requests and answers about it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tuma.adapters.aws_errors import translates_aws_errors
from tuma.adapters.dynamodb import attribute, batch_get, conditionally, every_item, python_item
from tuma.adapters.ledger_table import (
    DAY_INDEX,
    PAYMENT_RECORD,
    STATUS_ANSWER_RECORD,
    STATUS_QUERY_RECORD,
    OnLedgerTable,
    iso,
    key,
)
from tuma.formatting.clock import EAT, parse_time
from tuma.models.ledger import (
    CALLBACK_SOURCES,
    CONFIRMING_SOURCES,
    Confirmation,
    HeldReceipt,
    LedgerEntry,
    PaymentSeen,
    PaymentState,
    ReceiptMark,
    confirmation_of,
)
from tuma.models.sources import PaymentSource

if TYPE_CHECKING:
    from tuma.models.daraja import StatusQuery


@translates_aws_errors
class PaymentRecords(OnLedgerTable):
    def note_payment(self, seen: PaymentSeen) -> None:
        now = self._table.now()
        # `day` is the payment's own day (East Africa): the record is in the by-day index with the
        # messages of that day, which is how finance lists a day's payments.
        day = (seen.paid_at or now).astimezone(EAT).date().isoformat()
        expression = (
            "ADD sources :source SET kind = if_not_exists(kind, :kind), updated_at = :now, expires_at = :expires, "
            "first_seen = if_not_exists(first_seen, :now), first_source = if_not_exists(first_source, :first), "
            "#day = if_not_exists(#day, :day)"
        )
        names = {"#day": "day"}
        values: dict[str, Any] = {
            ":source": {"SS": [seen.source]},
            ":first": {"S": seen.source},
            # A refused payment's record is not a payment finance lists (ReceiptMark.REFUSED).
            ":kind": {"S": "refused-payment" if seen.receipt is ReceiptMark.REFUSED else "payment"},
            ":now": {"S": now.isoformat()},
            ":day": {"S": day},
            ":expires": {"N": str(self._table.expires(now))},
        }
        for name, (value, first_wins) in _facts(seen).items():
            expression += (
                f", #{name} = if_not_exists(#{name}, :{name})" if first_wins else f", #{name} = :{name}"
            )
            names[f"#{name}"] = name
            values[f":{name}"] = {"S": value}
        record = key(seen.reference, PAYMENT_RECORD)
        # One write when this source's number is the best so far (the usual case), two when not.
        if seen.payer is not None and conditionally(
            self._client.update_item,
            TableName=self._name,
            Key=record,
            UpdateExpression=expression + ", payer = :payer, payer_rank = :rank, payer_masked = :masked",
            ConditionExpression="attribute_not_exists(payer_rank) OR payer_rank < :rank",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values
            | {
                ":payer": {"S": seen.payer},
                ":rank": {"N": str(seen.payer_rank)},
                ":masked": {"S": seen.payer_masked or "-"},
            },
        ):
            return
        self._client.update_item(
            TableName=self._name,
            Key=record,
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def note_payments(self, seen: Sequence[PaymentSeen]) -> None:
        # One conditional update each, sixteen at a time: a pull's hundred payments in a few round trips.
        if len(seen) <= 1:
            for one in seen:
                self.note_payment(one)
            return
        with ThreadPoolExecutor(max_workers=min(16, len(seen))) as pool:
            list(pool.map(self.note_payment, seen))

    def best_payers(self, references: Sequence[str]) -> dict[str, str]:
        records = self._payment_records(references, "idempotency_key, payer")
        return {ref: item["payer"]["S"] for ref, item in records.items() if "payer" in item}

    def payment_sources(self, references: Sequence[str]) -> dict[str, frozenset[str]]:
        return {ref: state.sources for ref, state in self.payment_states(references).items()}

    def payment_states(self, references: Sequence[str]) -> dict[str, PaymentState]:
        records = self._payment_records(references, "idempotency_key, sources, receipt")
        return {
            ref: PaymentState(
                frozenset(item.get("sources", {}).get("SS", [])),
                ReceiptMark(item["receipt"]["S"]) if "receipt" in item else None,
            )
            for ref, item in records.items()
        }

    def _payment_records(self, references: Sequence[str], projection: str) -> dict[str, dict[str, Any]]:
        keys = [key(ref, PAYMENT_RECORD) for ref in sorted(set(references))]
        found = batch_get(self._client, self._name, keys, what="payment records", projection=projection)
        return {item["idempotency_key"]["S"]: item for item in found}

    def note_status_answer(self, reference: str, answer: Mapping[str, str]) -> None:
        now = self._table.now()
        item: dict[str, str | int] = {
            "idempotency_key": reference,
            "recipient_ref": STATUS_ANSWER_RECORD,
            "kind": "status-answer",
            **{name: value for name, value in answer.items() if value},
            "updated_at": now.isoformat(),
            "expires_at": self._table.expires(now),
        }
        self._client.put_item(TableName=self._name, Item={k: attribute(v) for k, v in item.items()})

    def unconfirmed_payments(self, since: datetime, before: datetime) -> list[str]:
        found = []
        for day in _days(since, before):
            request = {
                "TableName": self._name,
                "IndexName": DAY_INDEX,
                "KeyConditionExpression": "#day = :day",
                # A rejected payment made no receipt: there is nothing for M-Pesa's word to undo.
                "FilterExpression": (
                    "kind = :payment AND attribute_not_exists(unconfirmed_at) "
                    "AND (attribute_not_exists(receipt) OR receipt <> :rejected)"
                ),
                "ExpressionAttributeNames": {"#day": "day"},
                "ExpressionAttributeValues": {
                    ":day": {"S": day},
                    ":payment": {"S": "payment"},
                    ":rejected": {"S": ReceiptMark.REJECTED.value},
                },
            }
            for item in every_item(self._client.query, request):
                record = python_item(item)
                if _unconfirmed(record, since, before):
                    found.append(str(record["idempotency_key"]))
        return found

    def mark_unconfirmed(self, reference: str, at: datetime) -> bool:
        return conditionally(
            self._client.update_item,
            TableName=self._name,
            Key=key(reference, PAYMENT_RECORD),
            UpdateExpression="SET unconfirmed_at = :at",
            ConditionExpression=(
                "kind = :payment AND attribute_not_exists(unconfirmed_at) "
                "AND NOT contains(sources, :pull) AND NOT contains(sources, :asked)"
            ),
            ExpressionAttributeValues={
                ":at": {"S": _instant(at)},
                ":payment": {"S": "payment"},
                ":pull": {"S": PaymentSource.PULL.value},
                ":asked": {"S": PaymentSource.STATUS_QUERY.value},
            },
        )

    def payment_confirmation(self, reference: str) -> Confirmation | None:
        item = self._table.get(reference, PAYMENT_RECORD)
        return confirmation_of(python_item(item)) if item else None

    def record_status_query(self, query: StatusQuery) -> None:
        item: dict[str, str | int] = {
            "idempotency_key": query.receipt,
            "recipient_ref": STATUS_QUERY_RECORD,
            "kind": "status-query",
            "originator_conversation_id": query.originator_conversation_id,
            "conversation_id": query.conversation_id,
            "asked_at": _instant(query.asked_at),
            "answer_by": _instant(query.expires_at),
            "expires_at": self._table.expires(query.asked_at),
        }
        self._client.put_item(TableName=self._name, Item={k: attribute(v) for k, v in item.items()})

    def answer_status_query(
        self, reference: str, originator_conversation_id: str, conversation_id: str, now: datetime
    ) -> bool:
        return conditionally(
            self._client.update_item,
            TableName=self._name,
            Key={"idempotency_key": {"S": reference}, "recipient_ref": {"S": STATUS_QUERY_RECORD}},
            UpdateExpression="SET answered_at = :now",
            ConditionExpression=(
                "originator_conversation_id = :o AND conversation_id = :c AND answer_by > :now "
                "AND attribute_not_exists(answered_at)"
            ),
            ExpressionAttributeValues={
                ":o": {"S": originator_conversation_id},
                ":c": {"S": conversation_id},
                ":now": {"S": _instant(now)},
            },
        )

    def hold_receipt(self, held: HeldReceipt, entries: Sequence[LedgerEntry]) -> None:
        self._client.update_item(
            TableName=self._name,
            Key=key(held.reference, PAYMENT_RECORD),
            UpdateExpression="SET held_receipt = :message, held_amount = :amount",
            ExpressionAttributeValues={":message": {"S": held.message}, ":amount": {"S": held.amount}},
        )
        self._table.note_recipients(entries)
        self._table.put_all([self._table.entry_item(e) for e in entries])

    def held_receipts(self, references: Sequence[str]) -> dict[str, HeldReceipt]:
        records = self._payment_records(references, "idempotency_key, held_receipt, held_amount")
        return {
            reference: HeldReceipt(reference, record["held_amount"]["S"], record["held_receipt"]["S"])
            for reference, record in records.items()
            if "held_receipt" in record and "held_amount" in record
        }

    def release_held(self, reference: str) -> bool:
        return conditionally(
            self._client.update_item,
            TableName=self._name,
            Key=key(reference, PAYMENT_RECORD),
            UpdateExpression="REMOVE held_receipt, held_amount SET released_at = :now",
            ConditionExpression="attribute_exists(held_receipt)",
            ExpressionAttributeValues={":now": {"S": _instant(self._table.now())}},
        )


def _facts(seen: PaymentSeen) -> dict[str, tuple[str, bool]]:
    """What this report says of the payment: (value, whether the first source to say it wins)."""
    facts = {
        "amount": seen.amount,
        "currency": seen.currency,
        "account": seen.account,
        "short_code": seen.short_code,
        "paid_at": iso(seen.paid_at),
    }
    said = {name: (value, True) for name, value in facts.items() if value}
    if seen.receipt is not None:
        said["receipt"] = (seen.receipt.value, False)  # what became of the receipt: the latest
    # The pull's reading of the time and a callback's, each kept whoever came first: tuma doctor
    # compares the two for the skew a wrong DarajaPullTimes makes.
    if seen.paid_at is not None and seen.source is PaymentSource.PULL:
        said["pulled_at"] = (_instant(seen.paid_at), False)
    if seen.paid_at is not None and seen.source in CALLBACK_SOURCES:
        said["called_back_at"] = (_instant(seen.paid_at), False)
    return said


def _instant(moment: datetime) -> str:
    """UTC, to the microsecond: one format, so that two instants compare as their text does."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _days(since: datetime, before: datetime) -> list[str]:
    """The East Africa dates from `since` to `before`, both included (the by-day index's keys)."""
    first, last = since.astimezone(EAT).date(), before.astimezone(EAT).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _unconfirmed(record: Mapping[str, Any], since: datetime, before: datetime) -> bool:
    """Reported only by Daraja's callbacks, paid in [since, before), and not confirmed."""
    sources = {str(source) for source in record.get("sources") or ()}
    if not sources & CALLBACK_SOURCES or sources & CONFIRMING_SOURCES:
        return False
    try:
        paid = parse_time(str(record.get("paid_at") or record.get("first_seen") or ""))
    except ValueError:
        return False
    return since <= paid < before
