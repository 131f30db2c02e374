"""The settings of functions/daraja_pull."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from tuma.models.daraja import PullTimes
from tuma.runtime.settings import (
    CustomerSettings,
    DarajaSettings,
    LedgerSettings,
    MessageSettings,
    OutboxSettings,
    PaymentSettings,
)


class PullSettings(
    DarajaSettings, OutboxSettings, LedgerSettings, CustomerSettings, PaymentSettings, MessageSettings
):
    """functions/daraja_pull"""

    LEDGER_QUERIES: ClassVar[bool] = True

    STATE_TABLE: str  # the checkpoint of each short code (the OAuth token stays in memory)
    # Each run reads from its checkpoint minus this much, so rows Daraja lists late are still read.
    DARAJA_PULL_OVERLAP_MINUTES: int = Field(default=120, ge=1, le=2880)
    # A callback's payment M-Pesa's own record has not listed this long after it was made (two pull
    # windows) is marked UNCONFIRMED, and the PaymentsUnconfirmed alarm fires.
    DARAJA_CONFIRM_WITHIN_SECONDS: int = Field(default=1800, ge=10, le=86400)
    # Receipts held for M-Pesa's word (ConfirmPaymentsFrom) go when the pull lists their payment.
    CONFIRM_PAYMENTS_FROM: Decimal = Field(default=Decimal(0), ge=0)
    # The clock of Pull's dates (DarajaPullTimes): Kenyan time, whatever `trxDate`'s suffix says, or
    # UTC. Either way the query covers the other reading, so a wrong choice never loses a payment.
    DARAJA_PULL_TIMES: PullTimes = PullTimes.KENYA
    # A payment younger than this waits for the next run: its callback, with the payer's name, first.
    DARAJA_PULL_GRACE_SECONDS: int = Field(default=300, ge=0, le=3600)
    # A window with more new rows than this is cut in two; the next window of the run takes the rest.
    DARAJA_PULL_MAX_ROWS: int = Field(default=10_000, ge=10, le=100_000)
