"""The settings of functions/outbox_sender."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from tuma.runtime.settings import DeliveryCheckSettings, LedgerSettings, MessageSettings, ProviderSettings


class SenderSettings(ProviderSettings, LedgerSettings, MessageSettings, DeliveryCheckSettings):
    """functions/outbox_sender"""

    IDEMPOTENCY_TABLE: str
    IDEMPOTENCY_TTL_SECONDS: int = Field(default=7 * 24 * 3600, ge=60)
    # How long a message waits before it comes back after a transient failure (doubling per
    # attempt), and after the provider asked for minutes (4090) or ran out of credit (1004).
    SMS_RETRY_BASE_SECONDS: int = Field(default=15, ge=0, le=900)
    SMS_RETRY_LATER_SECONDS: int = Field(default=300, ge=0, le=43200)
    # The business's templates and routing (unset: the packaged templates only), re-read at most
    # this often: an edit reaches the next messages within it.
    TEMPLATES_TABLE: str | None = None
    TEMPLATE_CACHE_SECONDS: float = Field(default=60, ge=0, le=60)
    # Known queue URLs spare the function sqs:GetQueueUrl when it postpones a redelivery.
    OUTBOX_QUEUE_URL: str | None = None
    FAST_OUTBOX_QUEUE_URL: str | None = None

    @model_validator(mode="after")
    def _breaker_has_a_home(self) -> Self:
        if self.SMS_SECONDARY_API_BASE_URL and not self.STATE_TABLE:
            raise ValueError(
                "SMS_SECONDARY_API_BASE_URL needs STATE_TABLE (where the failover breaker is kept)"
            )
        return self
