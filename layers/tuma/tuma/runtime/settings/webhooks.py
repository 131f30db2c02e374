"""The settings of functions/webhooks."""

from __future__ import annotations

from pydantic import Field

from tuma.runtime.settings import (
    CustomerSettings,
    LedgerSettings,
    MessageSettings,
    OutboxSettings,
    PaymentSettings,
    PrivacySettings,
)


class WebhookSettings(
    OutboxSettings, LedgerSettings, CustomerSettings, PaymentSettings, MessageSettings, PrivacySettings
):
    """functions/webhooks"""

    WEBHOOK_SECRET: str
    WEBHOOK_MAX_BODY_BYTES: int = Field(default=64 * 1024, ge=1024, le=6 * 1024 * 1024)
    CREDENTIALS_CACHE_SECONDS: int = Field(default=300, ge=0)
