"""docs/privacy.md tells a Data Protection Officer which function may do what on which table: the
table there is the template's statements, read the way CloudFormation will create them."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import ROOT
from tuma_cli.local.template import load


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _table(resource: Any) -> str | None:
    """The table a statement's resource names (`!GetAtt T.Arn`, `!Sub "${T.Arn}/index/*"`)."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        found = resource["Fn::GetAtt"]
        return str(found[0] if isinstance(found, list) else found.split(".")[0])
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        text = resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], str) else resource["Fn::Sub"][0]
        match = re.match(r"\$\{(\w+)\.Arn\}", text)
        return match[1] if match else None
    return None


def _statements(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        if "Statement" in node:
            return _as_list(node["Statement"])
        return [s for value in node.values() for s in _statements(value)]
    if isinstance(node, list):
        return [s for value in node for s in _statements(value)]
    return []


def _granted() -> set[tuple[str, str, str]]:
    granted = set()
    for name, spec in load(ROOT / "template.yaml")["Resources"].items():
        if spec["Type"] != "AWS::Serverless::Function":
            continue
        for statement in _statements(spec["Properties"].get("Policies", [])):
            actions = [a[9:] for a in _as_list(statement.get("Action", [])) if a.startswith("dynamodb:")]
            for resource in _as_list(statement.get("Resource", [])):
                table = _table(resource)
                if table:
                    granted |= {(name, table, a) for a in actions}
    return granted


def test_the_data_maps_table_of_grants_is_the_templates() -> None:
    text = (ROOT / "docs" / "privacy.md").read_text()
    section = text.split("## Which function may do what on which table", 1)[1].split("\n## ", 1)[0]
    documented = {
        (function, table, action.strip())
        for function, table, actions in re.findall(
            r"^\| (\w+Function) \| (\w+) \| ([\w, ]+) \|$", section, re.M
        )
        for action in actions.split(",")
    }
    assert documented == _granted()
    assert not any(action == "Scan" for _, _, action in documented)
    # No policy template left that grants more than its statement says (DynamoDBCrudPolicy: Scan).
    assert "DynamoDBCrudPolicy" not in (ROOT / "template.yaml").read_text()
