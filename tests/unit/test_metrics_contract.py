"""The dashboard and the alarms read metrics the code emits: a renamed metric would leave a graph
empty and an alarm silent, with nothing failing."""

from __future__ import annotations

import json
import re

from tests.conftest import ROOT
from tuma_cli.local.template import load

SOURCES = [*(ROOT / "layers" / "tuma" / "tuma").rglob("*.py"), *(ROOT / "functions").rglob("app.py")]


def _emitted() -> str:
    """The code, and the template's log metric filters (which make metrics from log lines)."""
    filters = [
        f'"{transformation["MetricName"]}"'
        for resource in load(ROOT / "template.yaml")["Resources"].values()
        if resource["Type"] == "AWS::Logs::MetricFilter"
        for transformation in resource["Properties"]["MetricTransformations"]
    ]
    return "\n".join([*(path.read_text() for path in SOURCES), *filters])


def _dashboard_metrics() -> set[str]:
    body = load(ROOT / "template.yaml")["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "1", body))["widgets"]
    names: set[str] = set()
    for widget in widgets:
        namespace = None
        for metric in widget["properties"]["metrics"]:
            namespace = metric[0] if metric[0] != "." else namespace
            if namespace == "Tuma":
                names.add(metric[1])
    return names


def _alarm_metrics() -> set[str]:
    names: set[str] = set()
    for resource in load(ROOT / "template.yaml")["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        if props.get("Namespace") == "Tuma":
            names.add(props["MetricName"])
        for metric in props.get("Metrics", []):
            stat = metric.get("MetricStat", {}).get("Metric", {})
            if stat.get("Namespace") == "Tuma":
                names.add(stat["MetricName"])
    return names


def test_every_tuma_metric_the_dashboard_and_alarms_read_is_emitted_by_the_code() -> None:
    code = _emitted()
    read = _dashboard_metrics() | _alarm_metrics()
    assert {"MessagesSent", "ProviderCredit", "MessagesSentBySecondary"} <= read
    missing = {name for name in read if f'"{name}"' not in code}
    assert not missing, f"read by the dashboard or an alarm, emitted nowhere: {sorted(missing)}"
