"""The settings of functions/reconciler."""

from __future__ import annotations

from tuma.runtime.settings import DeliveryCheckSettings, LedgerSettings, OutboxSettings, ProviderSettings


class ReconcilerSettings(ProviderSettings, LedgerSettings, OutboxSettings, DeliveryCheckSettings):
    """functions/reconciler"""
