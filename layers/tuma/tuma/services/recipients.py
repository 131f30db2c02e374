"""Who gets the receipt: the payer's number as M-Pesa gave it, or the customer record behind the account.

M-Pesa now sends the payer's MSISDN plain, hashed (SHA-256 of the 254 form: sendable only through
the hashed OTP route) or masked (`2547 ***** 126`: not sendable at all). A masked or missing number
is resolved through the optional customer directory (account number → phone); if that fails the
receipt is undeliverable, and the reason says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuma.formatting.phones import InvalidNumber, Recipient, RecipientKind, parse_recipient

if TYPE_CHECKING:
    from tuma.ports import CustomerDirectory


@dataclass(frozen=True)
class Payer:
    """`recipient` is what to put in the outbox message's `to`; None means nobody can be sent to."""

    recipient: str | None
    received: Recipient | None  # the number as the payment carried it, for an undeliverable receipt's entry
    reason: str | None = None


def resolve(msisdn: str | None, account: str | None, directory: CustomerDirectory | None) -> Payer:
    received: Recipient | None = None
    problem = "the payment carried no phone number"
    if msisdn:
        try:
            received = parse_recipient(msisdn)
        except InvalidNumber as exc:
            problem = f"the payer's number is unusable ({exc.reason})"
        else:
            if received.kind is not RecipientKind.MASKED:
                return Payer(received.value, received)
            problem = "M-Pesa masked the payer's number"
    if directory is not None and account:
        phone = directory.phone_for(account)
        if phone:
            try:
                return Payer(parse_recipient(phone).value, received)
            except InvalidNumber as exc:
                return Payer(
                    None, received, f"{problem}, and the customer record's number is unusable ({exc.reason})"
                )
        return Payer(None, received, f"{problem}, and no customer record matches the account")
    lookup = "no customer directory is configured" if directory is None else "the payment names no account"
    return Payer(None, received, f"{problem}, and {lookup}")
