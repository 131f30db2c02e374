"""The settings of functions/daraja_pull."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

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

    STATE_TABLE: str  # the checkpoint of each short code, and the shared OAuth token
    # Each run reads from its checkpoint minus this much, so rows Daraja lists late are still read.
    DARAJA_PULL_OVERLAP_MINUTES: int = Field(default=120, ge=1, le=2880)
    # A callback's payment M-Pesa's own record has not listed this long after it was made (two pull
    # windows) is marked UNCONFIRMED, and the PaymentsUnconfirmed alarm fires.
    DARAJA_CONFIRM_WITHIN_SECONDS: int = Field(default=1800, ge=10, le=86400)
    # Receipts held for M-Pesa's word (ConfirmPaymentsFrom) go when the pull lists their payment.
    CONFIRM_PAYMENTS_FROM: Decimal = Field(default=Decimal(0), ge=0)
