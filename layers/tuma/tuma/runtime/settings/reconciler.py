"""The settings of functions/reconciler."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from tuma.runtime.settings import (
    DeliveryCheckSettings,
    LedgerSettings,
    OutboxSettings,
    PrivacySettings,
    ProviderSettings,
)


class ReconcilerSettings(
    ProviderSettings, LedgerSettings, OutboxSettings, DeliveryCheckSettings, PrivacySettings
):
    """functions/reconciler"""

    LEDGER_QUERIES: ClassVar[bool] = True

    # Days after which message texts and payers' numbers leave the ledger (RetentionDays); 0: kept.
    RETENTION_DAYS: int = Field(default=90, ge=0, le=3650)
