"""Alerts: the signed `POST /alerts` body, and CloudWatch alarm notifications that arrive through SNS."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tuma.models.outbox import OutboxMessage, SendAt
from tuma.models.sources import OwnSource
from tuma.models.validation import LANGUAGE, NO_CONTROL_CHARS


class AlertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # see mpesa._Daraja

    id: str = Field(min_length=1, max_length=100, pattern=NO_CONTROL_CHARS)
    title: str = Field(min_length=1, max_length=200)
    host: str | None = Field(default=None, max_length=100)
    severity: str | None = Field(default=None, max_length=20)
    details: str | None = Field(default=None, max_length=500)
    at: str | None = Field(default=None, max_length=40)
    to: list[str] | None = Field(default=None, max_length=100)
    language: str = Field(default="en", pattern=LANGUAGE.pattern)
    send_at: SendAt = None

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
            source=OwnSource.ALERTS_API,
            send_at=self.send_at,
        )


class SnsNotification(BaseModel):
    """The envelope SNS puts around a message it delivers to an SQS queue (raw delivery off)."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)  # alarms are rare

    Type: str
    TopicArn: str
    Message: str


class CloudWatchAlarm(BaseModel):
    """The JSON CloudWatch publishes to SNS when an alarm changes state."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    AlarmName: str = Field(min_length=1, max_length=255)
    NewStateValue: str
    OldStateValue: str | None = None
    NewStateReason: str = ""
    StateChangeTime: str
    Region: str = ""
