"""`tuma deploy --guided`: a first deploy's questions, checked as CloudFormation would, saved for sam."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tuma_cli import deploy_cli
from tuma_cli.local.template import load
from tuma_cli.main import _parser


def _run(tmp_path: Path, answers: list[str], *extra: str) -> tuple[int, str, str, Path]:
    config = tmp_path / "samconfig.toml"
    args = _parser().parse_args(
        [
            "deploy",
            "--guided",
            "--no-execute",
            "--config-file",
            str(config),
            "--template",
            str(ROOT / "template.yaml"),
            *extra,
        ]
    )
    out, err = io.StringIO(), io.StringIO()
    code = deploy_cli.run(args, out, err, io.StringIO("".join(f"{a}\n" for a in answers)))
    return code, out.getvalue(), err.getvalue(), config


def _questions(out: str) -> list[str]:
    """The names asked, in order (each prompt ends with `[current]: `)."""
    return [part.rsplit("\n", 1)[-1].split(" [", 1)[0].split(" (", 1)[0] for part in out.split("]: ")[:-1]]


def test_a_first_deploy_is_a_dozen_questions_and_sam_reads_the_answers(tmp_path: Path) -> None:
    answers = [
        "tuma-shule",  # stack name
        "af-south-1",
        "https://quicksms.advantasms.com",
        "20",  # BulkLimit: the brand's docs say 20
        "Shule ya Amani",
        "0722000111, 0733000222",
        "bursar@example.co.ke",
        "",  # NetworkMode: the default
        "Enabled",
        "600100",
        "pay.example.co.ke",
        "arn:aws:acm:af-south-1:123456789012:certificate/0b6f3c1e-0000-4000-8000-000000000000",
        "3",
    ]
    code, out, err, config = _run(tmp_path, answers)
    assert code == 0, err
    assert _questions(out) == [
        "Stack name",
        "AWS region",
        *[name for name, _ in deploy_cli.QUESTIONS if "Existing" not in name],
    ]
    parameters = load(ROOT / "template.yaml")["Parameters"]
    assert len(_questions(out)) <= 16 < len(parameters)  # sam deploy --guided asks every one of them
    # Each question says what the parameter is for, in the template's own words.
    assert "Comma-separated numbers that receive alerts" in out

    saved = tomllib.loads(config.read_text())["default"]["deploy"]["parameters"]
    assert (saved["stack_name"], saved["region"]) == ("tuma-shule", "af-south-1")
    assert saved["capabilities"] == "CAPABILITY_IAM"  # the example's other settings are kept
    overrides = deploy_cli._overrides(saved["parameter_overrides"])
    assert overrides["BusinessName"] == "Shule ya Amani"
    assert overrides["AlertRecipients"] == "0722000111, 0733000222"
    assert overrides["NetworkMode"] == "CreateVpcNatInstance"
    assert overrides["SilenceAlarmHours"] == "3"
    assert "deploy with: " in out and "--config-file" in out


def test_an_answer_cloudformation_would_refuse_is_asked_again_with_the_reason(tmp_path: Path) -> None:
    answers = [
        "",
        "eu-west-1",
        "http://sms.example.com",  # not HTTPS
        "https://sms.example.com",
        "5000",  # above BulkLimit's MaxValue
        "100",
        "",
        "0722 000",  # not a number an SMS can reach
        "",  # no recipients...
        "",  # ...and no e-mail: nobody would hear the alarms
        "ops@example.com",
        "nat",
        "CreateVpc",
        "",  # Daraja stays Disabled: no short codes or domain asked
        "0",
    ]
    code, out, err, config = _run(tmp_path, answers)
    assert code == 0, err
    assert "must be an https:// URL" in out
    assert "between 1 and 1000" in out
    assert "somebody must hear the alarms" in out
    assert "one of: CreateVpc, CreateVpcNatInstance, ExistingSubnets" in out
    assert "0722…" in out and "0722 000" not in out.split("AlertRecipients", 1)[1].split("\n", 2)[1]
    overrides = deploy_cli._overrides(
        tomllib.loads(config.read_text())["default"]["deploy"]["parameters"]["parameter_overrides"]
    )
    assert overrides["NetworkMode"] == "CreateVpc" and overrides["AlarmEmail"] == "ops@example.com"
    assert "BusinessShortCodes" not in overrides


def test_a_second_deploy_offers_the_first_ones_answers_and_set_changes_any_parameter(tmp_path: Path) -> None:
    first = ["tuma", "eu-west-1", "", "", "Duka", "0722000111", "", "", "", "0"]
    assert _run(tmp_path, first)[0] == 0
    code, out, err, config = _run(tmp_path, [""] * 12, "--set", "RetentionDays=30")
    assert code == 0, err
    assert "BusinessName [Duka]: " in out
    overrides = deploy_cli._overrides(
        tomllib.loads(config.read_text())["default"]["deploy"]["parameters"]["parameter_overrides"]
    )
    assert overrides["RetentionDays"] == "30" and overrides["BusinessName"] == "Duka"


@pytest.mark.parametrize("setting", ["NoSuchParameter=1", "RetentionDays", "NetworkMode=nat"])
def test_a_setting_the_template_would_refuse_stops_before_anything_is_written(
    tmp_path: Path, setting: str
) -> None:
    code, _, err, config = _run(tmp_path, [], "--set", setting)
    assert code == deploy_cli.EXIT_CONFIG and "configuration error" in err
    assert not config.exists()
