"""functions/balance_monitor: the credit as a metric, one alert per crossing below the threshold."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.integration.conftest import Stack, load_function, outbox_poller

pytestmark = pytest.mark.integration


def _queued(stack: Stack) -> list[dict[str, Any]]:
    return stack.queued()


def test_one_alert_per_crossing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monitor = load_function(
        stack, "balance_monitor", monkeypatch, LOW_CREDIT_THRESHOLD="500", POWERTOOLS_METRICS_DISABLED="false"
    )
    event = json.loads((ROOT / "events" / "schedule_balance.json").read_text())

    stack.configure_sandbox(credit=800)
    assert monitor(event) == {"credit": "800.00", "low": False, "alerted": False}
    stack.configure_sandbox(credit=120)
    assert monitor(event)["alerted"] is True
    assert monitor(event)["alerted"] is False  # still low: no second alert
    [alert] = _queued(stack)
    assert alert["template"] == "low_credit" and alert["data"] == {"credit": "120.00", "threshold": "500.00"}
    stack.configure_sandbox(credit=5000)
    assert monitor(event)["alerted"] is False  # recovered: silent
    stack.configure_sandbox(credit=10)
    assert monitor(event)["alerted"] is True  # a new crossing alerts again
    assert len(_queued(stack)) == 1

    metrics = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')
    ]
    assert [v for m in metrics for v in m["ProviderCredit"]] == [800.0, 120.0, 120.0, 5000.0, 10.0]


def test_the_alert_reaches_the_alert_recipients(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monitor = load_function(stack, "balance_monitor", monkeypatch, LOW_CREDIT_THRESHOLD="500")
    stack.configure_sandbox(credit=42)
    monitor(json.loads((ROOT / "events" / "schedule_balance.json").read_text()))
    sender = load_function(stack, "outbox_sender", monkeypatch, ALERT_RECIPIENTS="0722000111")
    outbox_poller(stack, sender).poll_once()
    [sms] = stack.outbox()
    assert sms["mobile"] == "254722000111"
    assert sms["message"] == (
        "Tuma: SMS credit is low, 42.00 units left (alert level 500.00). Top up to keep receipts going."
    )


def test_a_provider_failure_is_a_function_error_not_a_silent_pass(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuma.models.provider_answers import ProviderError

    monitor = load_function(stack, "balance_monitor", monkeypatch)
    stack.configure_sandbox(apikey="rotated-away-000000")
    with pytest.raises(ProviderError):
        monitor(json.loads((ROOT / "events" / "schedule_balance.json").read_text()))
