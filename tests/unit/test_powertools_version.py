from __future__ import annotations

import json
import tomllib

import pytest
from aws_lambda_powertools.shared.version import VERSION
from tuma.runtime import powertools_version
from tuma.runtime.observability import _loggers, build_logger

from tests.conftest import ROOT
from tuma_cli.local.template import load


def test_the_tested_release_is_the_one_pyproject_pins() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pin = next(r for r in project["dependencies"] if r.startswith("aws-lambda-powertools"))
    assert pin.split("==")[1] == powertools_version.TESTED
    assert VERSION == powertools_version.TESTED


def test_the_template_deploys_the_powertools_layer_of_the_pinned_release() -> None:
    template = load(ROOT / "template.yaml")
    parameter = template["Parameters"]["PowertoolsLayer"]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    function = template["Globals"]["Function"]
    arch = {"arm64": "arm64", "x86_64": "x86_64"}[function["Architectures"][0]]
    runtime = function["Runtime"]
    assert (
        parameter["Default"] == f"/aws/service/powertools/python/{arch}/{runtime}/{powertools_version.TESTED}"
    )
    assert function["Layers"][0] == {"Ref": "PowertoolsLayer"}


@pytest.mark.parametrize(
    ("running", "warned"),
    [("3.36.9", True), ("2.43.1", True), ("3.37.0", False), ("3.38.0a1", False), ("4.0.0", False)],
)
def test_an_older_powertools_is_named_with_the_parameter_that_fixes_it(running: str, warned: bool) -> None:
    warning = powertools_version.older_than_tested(running=running)
    if warned:
        assert warning is not None
        assert running in warning and "PowertoolsLayer parameter" in warning
    else:
        assert warning is None


def test_a_function_on_an_older_layer_says_so_in_its_first_log_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(powertools_version, "RUNNING", "3.20.0")
    monkeypatch.delitem(_loggers, "version-check", raising=False)
    build_logger("version-check")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    assert line["level"] == "WARNING"
    assert "Powertools 3.20.0 is older than 3.37.0" in line["message"]
