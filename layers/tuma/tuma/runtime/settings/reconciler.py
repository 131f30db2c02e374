"""The settings of functions/reconciler."""

from __future__ import annotations

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
