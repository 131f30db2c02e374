"""CloudWatch alarms reach ALERT_RECIPIENTS: alarm -> SNS topic -> outbox queue -> the sender."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tuma.formatting.gsm7 import count_parts

from tests.integration.conftest import Stack, load_function, outbox_poller

pytestmark = pytest.mark.integration

RECIPIENTS = "0722000000,0733000000"


def _alarm(
    state: str,
    old: str,
    reason: str = "Threshold Crossed: 1 datapoint [5.0 (24/11/26 10:00:00)] was greater than or equal "
    "to the threshold (1.0).",
    name: str = "tuma-OutboxDeadLetters",
    changed: str = "2026-11-24T10:00:00.000+0000",
) -> str:
    return json.dumps(
        {
            "AlarmName": name,
            "AlarmDescription": "Messages in the dead-letter queue",
            "AWSAccountId": "123456789012",
            "NewStateValue": state,
            "NewStateReason": reason,
            "StateChangeTime": changed,
            "Region": "EU (Ireland)",
            "AlarmArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:" + name,
            "OldStateValue": old,
            "Trigger": {"MetricName": "ApproximateNumberOfMessagesVisible"},
        }
    )


def _publish(stack: Stack, message: str) -> None:
    stack.client("sns").publish(TopicArn=stack.topology.ref("AlarmTopic"), Subject="ALARM", Message=message)


def _drain(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    poller = outbox_poller(
        stack, load_function(stack, "outbox_sender", monkeypatch, ALERT_RECIPIENTS=RECIPIENTS)
    )
    while poller.poll_once().received:
        pass
    return stack.outbox()


def test_an_alarm_reaches_every_alert_recipient_in_at_most_two_parts(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    _publish(stack, _alarm("ALARM", "OK", reason="Threshold Crossed: " + "very long explanation " * 30))
    sms = _drain(stack, monkeypatch)
    assert sorted(m["mobile"] for m in sms) == ["254722000000", "254733000000"]
    text = sms[0]["message"]
    assert text.startswith("ALARM: tuma-OutboxDeadLetters is ALARM in EU (Ireland). Threshold Crossed:")
    assert text.endswith("...")
    assert count_parts(text) <= 2 and sms[0]["parts"] <= 2


def test_recovery_is_short_and_repeats_send_once(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    _publish(stack, _alarm("ALARM", "OK"))
    _publish(stack, _alarm("ALARM", "OK"))  # SNS delivers again: same state change
    _publish(stack, _alarm("OK", "ALARM", changed="2026-11-24T10:05:00.000+0000"))
    _publish(stack, _alarm("INSUFFICIENT_DATA", "OK", changed="2026-11-24T10:09:00.000+0000"))  # no SMS
    _publish(stack, _alarm("OK", "INSUFFICIENT_DATA", changed="2026-11-24T10:10:00.000+0000"))  # no SMS
    texts = sorted(m["message"] for m in _drain(stack, monkeypatch) if m["mobile"] == "254722000000")
    assert len(texts) == 2
    assert texts[1] == "RECOVERED: tuma-OutboxDeadLetters is OK again in EU (Ireland)."
    assert texts[0].startswith("ALARM: tuma-OutboxDeadLetters is ALARM")


def test_an_sns_notification_that_is_not_an_alarm_is_rejected_not_retried(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _publish(stack, "just a string")
    poller = outbox_poller(
        stack, load_function(stack, "outbox_sender", monkeypatch, ALERT_RECIPIENTS=RECIPIENTS)
    )
    result = poller.poll_once()
    assert result.received == 1 and result.deleted == 1
    assert stack.outbox() == []
    assert "does not carry a CloudWatch alarm" in caplog.text
