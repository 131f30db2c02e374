"""The settings of functions/webhooks."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, field_validator

from tuma.runtime.settings import (
    CustomerSettings,
    LedgerSettings,
    MessageSettings,
    NumberList,
    OutboxSettings,
    PaymentSettings,
    PrivacySettings,
)


class WebhookSettings(
    OutboxSettings, LedgerSettings, CustomerSettings, PaymentSettings, MessageSettings, PrivacySettings
):
    """functions/webhooks"""

    WEBHOOK_SECRET: str
    # The business's API keys (tuma.models.api_keys); STATE_TABLE remembers each signature's nonce.
    API_KEYS_SECRET: str
    STATE_TABLE: str
    # Each caller that cannot sign has a path token of its own (tuma.models.callback_tokens).
    DARAJA_CALLBACK_SECRET: str | None = None
    PROVIDER_CALLBACK_SECRET: str | None = None
    # Where Daraja's callbacks may come from: IPs and CIDRs, or `open` (SafaricomCallbackIps).
    DARAJA_CALLBACK_IPS: str
    # The business's own paybills and tills: a Daraja payment to any other is REJECTED (none: no check).
    BUSINESS_SHORT_CODES: NumberList = ()
    # A callback's payment of at least this much (KES) waits for M-Pesa's own record (0: none waits).
    CONFIRM_PAYMENTS_FROM: Decimal = Field(default=Decimal(0), ge=0)
    WEBHOOK_MAX_BODY_BYTES: int = Field(default=64 * 1024, ge=1024, le=6 * 1024 * 1024)
    CREDENTIALS_CACHE_SECONDS: int = Field(default=300, ge=0)

    @field_validator("DARAJA_CALLBACK_IPS")
    @classmethod
    def _addresses(cls, value: str) -> str:
        from tuma.security.addresses import Addresses

        Addresses(value)  # ValueError names what is wrong
        return value
