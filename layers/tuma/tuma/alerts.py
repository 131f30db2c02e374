"""Alerts: the signed `POST /alerts` body, and CloudWatch alarm notifications that arrive through SNS."""

from __future__ import annotations

import json
import logging
from typing import Any

from aws_lambda_powertools.utilities.parser.models import SnsNotificationModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tuma.gsm7 import TextRejected, prepare
from tuma.outbox import OutboxMessage
from tuma.rendering import LANGUAGE, TemplateError, render

log = logging.getLogger(__name__)
ALARM_MAX_PARTS = 2


class AlertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
    title: str = Field(min_length=1, max_length=200)
    host: str | None = Field(default=None, max_length=100)
    severity: str | None = Field(default=None, max_length=20)
    details: str | None = Field(default=None, max_length=500)
    at: str | None = Field(default=None, max_length=40)
    to: list[str] | None = Field(default=None, max_length=100)
    language: str = Field(default="en", pattern=LANGUAGE.pattern)

    def message(self) -> OutboxMessage:
        data = {
            k: v
            for k, v in self.model_dump(include={"title", "host", "severity", "details", "at"}).items()
            if v
        }
        return OutboxMessage(
            idempotency_key=f"alert:{self.id}",
            to=tuple(self.to or ()),
            template="alert",
            data=data,
            language=self.language,
            source="alerts-api",
        )


class CloudWatchAlarm(BaseModel):
    """The JSON CloudWatch publishes to SNS when an alarm changes state."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    AlarmName: str = Field(min_length=1, max_length=255)
    NewStateValue: str
    OldStateValue: str | None = None
    NewStateReason: str = ""
    StateChangeTime: str
    Region: str = ""


def alarm_from_sns(body: dict[str, Any], language: str = "en") -> OutboxMessage | None:
    """An alert SMS for an alarm's state change, or None when the change deserves none.

    ALARM alerts; OK after ALARM sends a short recovery; anything else (INSUFFICIENT_DATA, the first
    OK of a new alarm) is left to the dashboard. Raises ValueError for a notification that is not an
    alarm. The key is the state change itself, so SNS's repeated deliveries send once.
    """
    try:
        notification = SnsNotificationModel.model_validate(body)
        alarm = CloudWatchAlarm.model_validate(json.loads(str(notification.Message)))
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
    data["reason"] = _fit_reason(template, data, language)
    return OutboxMessage(
        idempotency_key=f"alarm:{alarm.AlarmName}:{state}:{alarm.StateChangeTime}"[:200],
        template=template,
        data=data,
        language=language,
        source="cloudwatch",
    )


def _fit_reason(template: str, data: dict[str, str], language: str) -> str:
    """Shorten the alarm's (often long) reason until the whole alert fits in two SMS parts."""
    original = " ".join(data["reason"].split())
    reason, limit = original, len(original)
    while True:
        try:
            prepare(render(template, data | {"reason": reason}, language), max_parts=ALARM_MAX_PARTS)
            return reason
        except (TextRejected, TemplateError):
            if not reason:
                return reason
            limit = int(limit * 0.8) - 1
            reason = original[:limit].rstrip() + "..." if limit > 8 else ""
