"""What `tuma deploy` writes is what the pinned SAM CLI reads (its own config and parameter parsers)."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import sam_cli
from tuma_cli import deploy_cli
from tuma_cli.main import _parser

pytestmark = pytest.mark.e2e

READ_AS_SAM_DOES = """
import json, sys
from samcli.cli.types import CfnParameterOverridesType
from samcli.lib.config.samconfig import SamConfig
config = SamConfig(sys.argv[1], "samconfig.toml").get_all(["deploy"], "parameters")
config["parameter_overrides"] = CfnParameterOverridesType().convert(config["parameter_overrides"], None, None)
print(json.dumps(config))
"""


def test_the_pinned_sam_cli_reads_the_answers_as_they_were_given(tmp_path: Path) -> None:
    sam = Path(sam_cli())
    args = _parser().parse_args(
        [
            "deploy",
            "--no-execute",
            "--region",
            "af-south-1",
            "--stack",
            "tuma-duka",
            "--config-file",
            str(tmp_path / "samconfig.toml"),
            "--template",
            str(ROOT / "template.yaml"),
            "--set",
            'BusinessName=Duka la "Mama" Njeri',
            "--set",
            "AlertRecipients=0722000111, 0733000222",
            "--set",
            "BusinessContact=pay.example.co.ke/help?a=1&b=2",
        ]
    )
    out, err = io.StringIO(), io.StringIO()
    assert deploy_cli.run(args, out, err, io.StringIO()) == 0, err.getvalue()
    python = sam.parent / "python"
    read = subprocess.run(
        [str(python), "-c", READ_AS_SAM_DOES, str(tmp_path)], capture_output=True, text=True, check=True
    )
    config = json.loads(read.stdout)
    assert (config["stack_name"], config["region"], config["capabilities"]) == (
        "tuma-duka",
        "af-south-1",
        "CAPABILITY_IAM",
    )
    assert config["parameter_overrides"] == {
        "BusinessName": 'Duka la "Mama" Njeri',
        "AlertRecipients": "0722000111, 0733000222",
        "BusinessContact": "pay.example.co.ke/help?a=1&b=2",
    }
