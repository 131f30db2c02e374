"""The settings of functions/outbox_sender."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Self

from pydantic import BeforeValidator, Field, field_validator, model_validator

from tuma.models.privacy import DEFAULT_FOOTER
from tuma.runtime.settings import (
    DeliveryCheckSettings,
    Flag,
    LedgerSettings,
    MessageSettings,
    PrivacySettings,
    ProviderSettings,
)

if TYPE_CHECKING:
    from tuma.services.guards import Limits
    from tuma.services.send_path.batch import RetryDelays


def _codes(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(
            int(code.strip().lstrip("+")) for code in value.replace(";", ",").split(",") if code.strip()
        )
    return value


class SenderSettings(
    ProviderSettings, LedgerSettings, MessageSettings, DeliveryCheckSettings, PrivacySettings
):
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
    # The guards (tuma.services.guards; they need STATE_TABLE): caps on SMS parts (0: none; an
    # operator's `tuma caps set` overrides them), messages an hour to one number per category, and
    # the window in which repeats of one alert are one SMS (0: no collapsing).
    DAILY_PARTS_CAP: int = Field(default=2000, ge=0)  # template DailyPartsCap: on by default
    RECEIPT_DAILY_PARTS_CAP: int = Field(default=5000, ge=0)
    MONTHLY_PARTS_CAP: int = Field(default=0, ge=0)
    RECIPIENT_HOURLY_LIMIT: int = Field(default=10, ge=0)
    # Receipts: each answers a payment the payer made (only a genuine one makes a receipt), so a parent
    # paying fees for 40 pupils gets all 40 at once; 200 an hour only stops a loop.
    RECIPIENT_HOURLY_LIMIT_RECEIPTS: int = Field(default=200, ge=0)
    RECIPIENT_HOURLY_LIMIT_CODES: int = Field(default=5, ge=0)
    RECIPIENT_HOURLY_LIMIT_ALERTS: int = Field(default=30, ge=0)
    ALERT_COLLAPSE_SECONDS: int = Field(default=600, ge=0, le=86400)
    GUARD_RECHECK_SECONDS: int = Field(default=900, ge=1, le=900)  # SQS delays at most 15 minutes
    # Countries whose numbers may be sent to (calling codes): the provider's own by default, so a
    # number abroad is refused before it costs anything.
    ALLOWED_COUNTRY_CODES: Annotated[tuple[int, ...], BeforeValidator(_codes)] = (254,)
    # Promotions (tuma.services.privacy): when they may go (HH:MM-HH:MM, East Africa Time), what
    # they end with, and whether a consent must be on record for each number.
    PROMOTIONAL_WINDOW: str = "08:00-18:00"
    PROMOTIONAL_FOOTER: str = Field(default=DEFAULT_FOOTER, min_length=1, max_length=40)
    REQUIRE_PROMOTIONAL_CONSENT: Flag = True

    def guard_limits(self) -> Limits:
        from tuma.services.guards import Category, Limits

        hourly = {
            Category.RECEIPT: self.RECIPIENT_HOURLY_LIMIT_RECEIPTS,
            Category.CODE: self.RECIPIENT_HOURLY_LIMIT_CODES,
            Category.ALERT: self.RECIPIENT_HOURLY_LIMIT_ALERTS,
            Category.MESSAGE: self.RECIPIENT_HOURLY_LIMIT,
        }
        return Limits(
            daily_parts=self.DAILY_PARTS_CAP,
            receipt_daily_parts=self.RECEIPT_DAILY_PARTS_CAP,
            monthly_parts=self.MONTHLY_PARTS_CAP,
            hourly=hourly,
            collapse_seconds=self.ALERT_COLLAPSE_SECONDS,
            recheck_seconds=self.GUARD_RECHECK_SECONDS,
        )

    def retry_delays(self) -> RetryDelays:
        from tuma.services.send_path.batch import RetryDelays

        return RetryDelays(
            transient_base=self.SMS_RETRY_BASE_SECONDS, provider_asked=self.SMS_RETRY_LATER_SECONDS
        )

    @field_validator("PROMOTIONAL_WINDOW")
    @classmethod
    def _window(cls, value: str) -> str:
        from tuma.models.privacy import SendWindow

        return SendWindow(value).spec

    @model_validator(mode="after")
    def _breaker_has_a_home(self) -> Self:
        if self.SMS_SECONDARY_API_BASE_URL and not self.STATE_TABLE:
            raise ValueError(
                "SMS_SECONDARY_API_BASE_URL needs STATE_TABLE (where the failover breaker is kept)"
            )
        return self
