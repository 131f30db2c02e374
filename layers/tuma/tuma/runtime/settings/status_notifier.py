"""The settings of functions/status_notifier."""

from __future__ import annotations

from pydantic import Field

from tuma.runtime.settings import HTTPS_URL, Env


class StatusNotifierSettings(Env):
    """functions/status_notifier"""

    STATUS_EVENTS_QUEUE_URL: str
    STATUS_CALLBACK_URL: str = Field(pattern=HTTPS_URL)
    # The Standard Webhooks signing secret(s): {"token", "previous": [...]} (tuma secrets rotate status).
    STATUS_WEBHOOK_SECRET: str
    CREDENTIALS_CACHE_SECONDS: int = Field(default=300, ge=0)
