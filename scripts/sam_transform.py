"""Print template.yaml as CloudFormation will receive it: the SAM transform applied, offline.

Runs with the SAM CLI's interpreter (.venv-sam), which carries samtranslator; local CodeUri and
ContentUri become s3:// placeholders, as `sam package` would make them. Managed policy names resolve
from samtranslator's bundled map, so no AWS account is needed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent


class _NoIam:
    def get_policy(self, *args: Any, **kwargs: Any) -> Any:
        raise SystemExit("a managed policy was not in samtranslator's bundled map")


def main() -> int:
    """Arguments NAME=VALUE set parameters (CloudFormation transforms with the stack's own values)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    parameters: dict[str, Any] = {}
    for argument in sys.argv[1:]:
        name, _, value = argument.partition("=")
        parameters[name] = value.split(",") if "," in value else value
    template = yaml_parse((ROOT / "template.yaml").read_text())
    for spec in template["Resources"].values():
        props = spec.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://tuma-artifacts/{props[key].strip('/')}.zip"
    result = transform(template, parameters, ManagedPolicyLoader(_NoIam()))
    json.dump(result, sys.stdout, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
