"""CloudWatch alarms as SMS: a state change worth telling becomes an alert for ALERT_RECIPIENTS."""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import ValidationError

from tuma.formatting.gsm7 import TextRejected, prepare
from tuma.formatting.rendering import render
from tuma.models.alerts import CloudWatchAlarm, SnsNotification
from tuma.models.kinds import TemplateError
from tuma.models.outbox import OutboxMessage
from tuma.models.sources import OwnSource
from tuma.models.templates import Catalog

log = logging.getLogger(__name__)
ALARM_MAX_PARTS = 2


def alarm_from_sns(
    body: dict[str, Any], language: str = "en", catalog: Catalog | None = None
) -> OutboxMessage | None:
    """An alert SMS for an alarm's state change, or None when the change deserves none.

    ALARM alerts; OK after ALARM sends a short recovery; anything else (INSUFFICIENT_DATA, the first
    OK of a new alarm) is left to the dashboard. Raises ValueError for a notification that is not an
    alarm. The key is the state change itself, so SNS's repeated deliveries send once.
    """
    try:
        notification = SnsNotification.model_validate(body)
        alarm = CloudWatchAlarm.model_validate(json.loads(notification.Message))
    except (ValidationError, ValueError, TypeError):
        raise ValueError("SNS notification does not carry a CloudWatch alarm") from None
    state = alarm.NewStateValue.upper()
    if state == "ALARM":
        template = "alarm"
    elif state == "OK" and (alarm.OldStateValue or "").upper() == "ALARM":
        template = "alarm_ok"
    else:
        log.info("alarm %s moved %s -> %s: no SMS", alarm.AlarmName, alarm.OldStateValue, state)
        return None
    data = {"alarm": alarm.AlarmName, "state": state, "region": alarm.Region, "reason": alarm.NewStateReason}
    data["reason"] = _fit_reason(template, data, language, catalog or Catalog())
    return OutboxMessage(
        idempotency_key=f"alarm:{alarm.AlarmName}:{state}:{alarm.StateChangeTime}"[:200],
        template=template,
        data=data,
        language=language,
        source=OwnSource.CLOUDWATCH,
    )


def _fit_reason(template: str, data: dict[str, str], language: str, catalog: Catalog) -> str:
    """Shorten the alarm's (often long) reason until the whole alert fits in two SMS parts, in the
    business's own wording of the alarm."""
    original = " ".join(data["reason"].split())
    reason, limit = original, len(original)
    while True:
        try:
            filled = {**catalog.identity, **data, "reason": reason}
            prepare(render(template, filled, language, catalog.sources), max_parts=ALARM_MAX_PARTS)
            return reason
        except (TextRejected, TemplateError):
            if not reason:
                return reason
            limit = int(limit * 0.8) - 1
            reason = original[:limit].rstrip() + "..." if limit > 8 else ""
