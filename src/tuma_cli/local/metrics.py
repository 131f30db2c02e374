"""Metrics as the local topology keeps them: the functions' embedded-metric-format log lines become
CloudWatch metrics in the emulator, where `tuma doctor --local` and the console read them."""

from __future__ import annotations

from typing import Any


def put_metrics(cloudwatch: Any, emf: dict[str, Any]) -> None:
    """Embedded-metric-format lines become CloudWatch metrics in the emulator."""
    for directive in emf.get("_aws", {}).get("CloudWatchMetrics", []):
        dimensions = [
            {"Name": name, "Value": str(emf[name])}
            for group in directive.get("Dimensions", [])
            for name in group
            if name in emf
        ]
        data = []
        for metric in directive.get("Metrics", []):
            values = emf.get(metric["Name"])
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, int | float):
                    data.append(
                        {
                            "MetricName": metric["Name"],
                            "Dimensions": dimensions,
                            "Value": float(value),
                            "Unit": metric.get("Unit", "None"),
                        }
                    )
        for start in range(0, len(data), 20):
            cloudwatch.put_metric_data(Namespace=directive["Namespace"], MetricData=data[start : start + 20])
