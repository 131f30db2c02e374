"""Metrics as counts, and the lean switch: a lean stack emits only what its alarms read."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools import Metrics
from tuma.runtime.observability import ESSENTIAL_METRICS, ONLY_WHEN_WRONG, CountingMetrics


def _emitted(level: str, capsys: pytest.CaptureFixture[str]) -> set[str]:
    metrics = Metrics(namespace="Tuma", service="tuma")
    metrics.clear_metrics()  # Powertools keeps one set per process: what other tests left is not ours
    counts = CountingMetrics(metrics, level)
    for name in ("MessagesSent", "SmsParts", "DeliveriesFailed", "PaymentsRejected"):
        counts.count(name)
    counts.measure("SecondsToFinal", 1.5)
    metrics.flush_metrics()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return {m["Name"] for line in lines for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


def test_full_emits_everything_and_lean_only_the_essential_metrics(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _emitted("full", capsys) == {
        "MessagesSent",
        "SmsParts",
        "DeliveriesFailed",
        "PaymentsRejected",
        "SecondsToFinal",
    }
    assert _emitted("lean", capsys) == {"DeliveriesFailed", "PaymentsRejected"}
    # Eleven always emitted (CloudWatch's free ten, and ReceiptsQueued for the silence alarm at USD
    # 0.30 a month; bench/cost.py counts it); three only when something is wrong.
    assert len(ESSENTIAL_METRICS - ONLY_WHEN_WRONG) <= 11
    assert ONLY_WHEN_WRONG <= ESSENTIAL_METRICS
