"""The settings of functions/balance_monitor."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from tuma.runtime.settings import MessageSettings, OutboxSettings, ProviderSettings


class BalanceSettings(ProviderSettings, OutboxSettings, MessageSettings):
    """functions/balance_monitor"""

    STATE_TABLE: str
    LOW_CREDIT_THRESHOLD: Decimal = Field(default=Decimal(500), ge=0)
