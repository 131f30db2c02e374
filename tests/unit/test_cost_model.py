"""The cost model (bench/cost.py) keeps up with template.yaml: nothing billable is left out of it."""

from __future__ import annotations

import tomllib
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import ROOT
from tuma_cli.local.template import load


@pytest.fixture(scope="module")
def cost() -> ModuleType:
    from bench import cost as model

    return model


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load(ROOT / "template.yaml")


def _modes_with(resource: dict[str, Any], template: dict[str, Any]) -> set[str]:
    """The NetworkMode values under which a resource exists (by its Condition)."""
    modes = set(template["Parameters"]["NetworkMode"]["AllowedValues"])
    condition = resource.get("Condition")
    return {
        None: modes,
        "CreateVpc": {"CreateVpc", "CreateVpcNatInstance"},
        "UseNatGateway": {"CreateVpc"},
        "UseNatInstance": {"CreateVpcNatInstance"},
    }.get(condition, modes)


def test_every_resource_type_is_either_priced_or_known_to_be_free(
    cost: ModuleType, template: dict[str, Any]
) -> None:
    unknown = {
        resource["Type"]
        for resource in template["Resources"].values()
        if resource["Type"] not in cost.BILLED and resource["Type"] not in cost.FREE_TYPES
    }
    assert not unknown, f"add these to bench/cost.py's BILLED or FREE_TYPES: {sorted(unknown)}"


def test_every_billable_resource_has_its_lines_in_each_mode_it_exists_in(
    cost: ModuleType, template: dict[str, Any]
) -> None:
    prices = cost.Prices("us-east-1")
    lines = {mode: {line.service for line in cost.monthly(100_000, mode, prices)} for mode in cost.MODES}
    assert set(cost.MODES) == set(template["Parameters"]["NetworkMode"]["AllowedValues"])
    for name, resource in template["Resources"].items():
        for mode in _modes_with(resource, template):
            missing = set(cost.BILLED.get(resource["Type"], ())) - lines[mode]
            assert not missing, (
                f"{name} ({resource['Type']}) is billed in {mode} but the model has no {missing}"
            )
    # And nothing is charged for what a mode does not build.
    assert "NAT" not in lines["ExistingSubnets"] and "IPv4" not in lines["ExistingSubnets"]


def test_the_counts_the_model_assumes_are_the_templates(cost: ModuleType, template: dict[str, Any]) -> None:
    resources = template["Resources"].values()
    usage = cost.Usage()
    watched = 0
    by_condition: dict[str | None, int] = {}
    for alarm in (r for r in resources if r["Type"] == "AWS::CloudWatch::Alarm"):
        metrics = alarm["Properties"].get("Metrics")
        count = len([m for m in metrics if "MetricStat" in m]) if metrics else 1
        by_condition[alarm.get("Condition")] = by_condition.get(alarm.get("Condition"), 0) + count
    # Unconditional alarms, and those only a full stack has; a status callback's is counted in both.
    always = by_condition[None] + by_condition["HasStatusCallback"]
    assert usage.alarm_metrics == watched + always + by_condition["FullObservability"]
    assert usage.lean_alarm_metrics == always
    assert usage.nat_instance_alarm_metrics == by_condition["UseNatInstance"]
    assert usage.daraja_alarm_metrics == by_condition["HasDaraja"]
    assert usage.silence_alarm_metrics == by_condition["HasSilenceAlarm"]
    from tuma.runtime.observability import ESSENTIAL_METRICS, ONLY_WHEN_WRONG

    filters = [r for r in resources if r["Type"] == "AWS::Logs::MetricFilter"]
    # A filter with a DefaultValue emits for every log line, so it is billed every hour.
    always_filtered = [
        f for f in filters if any("DefaultValue" in t for t in f["Properties"]["MetricTransformations"])
    ]
    assert usage.lean_custom_metrics == len(ESSENTIAL_METRICS - ONLY_WHEN_WRONG) + len(always_filtered)
    secrets = [r for r in resources if r["Type"] == "AWS::SecretsManager::Secret"]
    assert usage.secrets == len(
        [s for s in secrets if s.get("Condition") not in ("HasSecondaryProvider", "HasDaraja")]
    )
    assert usage.dashboards == len([r for r in resources if r["Type"] == "AWS::CloudWatch::Dashboard"])
    assert usage.memory_gb * 1024 == template["Globals"]["Function"]["MemorySize"]
    functions = [r for r in resources if r["Type"] == "AWS::Serverless::Function"]
    modelled = set(usage.invocations) | set(usage.scheduled_invocations) | {"daraja_pull"}
    assert len(modelled) == len(functions)


def test_every_price_says_where_it_comes_from_and_when(cost: ModuleType) -> None:
    table = tomllib.loads((ROOT / "bench" / "prices.toml").read_text())
    for name, entry in table.items():
        assert entry["source"].startswith("https://aws.amazon.com/"), name
        assert entry["via"] and entry["read"] and entry["unit"], name
        assert float(entry["us-east-1"]) > 0, name


def test_a_nat_instance_costs_a_fraction_of_a_nat_gateway_and_existing_subnets_least(
    cost: ModuleType,
) -> None:
    prices = cost.Prices("us-east-1")
    for receipts in (3_000, 100_000, 1_000_000):
        total = {mode: sum(line.usd for line in cost.monthly(receipts, mode, prices)) for mode in cost.MODES}
        assert total["ExistingSubnets"] < total["CreateVpcNatInstance"] < total["CreateVpc"]
        nat = {
            mode: sum(line.usd for line in cost.monthly(receipts, mode, prices) if line.service == "NAT")
            for mode in ("CreateVpc", "CreateVpcNatInstance")
        }
        assert nat["CreateVpcNatInstance"] < nat["CreateVpc"] / 5


def test_a_region_without_a_price_borrows_us_east_1_and_says_so(cost: ModuleType) -> None:
    prices = cost.Prices("af-south-1")
    assert prices("lambda_arm64_gb_second") == (0.00001768, False)
    assert prices("nat_gateway_hour") == (0.045, True)


def test_a_deploy_with_the_defaults_builds_the_cheapest_setup_that_creates_its_own_egress(
    cost: ModuleType,
) -> None:
    """What README recommends for a first deploy is what the defaults build (issue 32)."""
    defaults = cost.template_defaults()
    assert defaults == {"NetworkMode": "CreateVpcNatInstance", "Observability": "lean"}
    prices = cost.Prices("us-east-1")
    totals = {
        (mode, level): sum(line.usd for line in cost.monthly(3_000, mode, prices, observability=level))
        for mode in ("CreateVpc", "CreateVpcNatInstance")
        for level in ("full", "lean")
    }
    chosen = totals[(defaults["NetworkMode"], defaults["Observability"])]
    assert chosen == min(totals.values())
    assert chosen < totals[("CreateVpc", "full")] / 3
