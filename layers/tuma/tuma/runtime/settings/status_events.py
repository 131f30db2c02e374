"""The settings of functions/status_events."""

from __future__ import annotations

from tuma.runtime.settings import Env


class StatusEventSettings(Env):
    """functions/status_events"""

    STATUS_EVENTS_QUEUE_URL: str
