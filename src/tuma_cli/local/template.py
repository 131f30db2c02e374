"""Read template.yaml the way CloudFormation does, far enough to run it locally.

Short-form tags become their long forms, parameters take their defaults (or overrides), conditions
are evaluated, and intrinsic functions resolve against the physical names of local resources.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT = "123456789012"


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _tag)


def load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        document = yaml.load(handle, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass with CFN tags
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return document


class Unresolvable(Exception):
    """A reference to something that does not exist (yet) locally."""


@dataclass
class Resolver:
    parameters: dict[str, Any]
    conditions: dict[str, bool] = field(default_factory=dict)
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)
    fallback: Callable[[str], Any] | None = None
    # Resources that do not exist locally (VPC, alarms, IAM...): references to them get a placeholder.
    placeholders: set[str] = field(default_factory=set)
    # Random per local stack, as in AWS: the webhook path token is derived from it.
    stack_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    mappings: dict[str, Any] = field(default_factory=dict)  # the template's Mappings

    def pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": "tuma-local",
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/tuma-local/{self.stack_uuid}",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": _NO_VALUE,
        }[name]

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        if name in self.placeholders:
            return f"local-{name}"
        if self.fallback is not None:
            return self.fallback(name)
        raise Unresolvable(name)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.conditions[arg]
            if key.startswith("Fn::"):
                return self._function(key[4:], arg)
        out = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not _NO_VALUE}

    def _function(self, name: str, arg: Any) -> Any:
        handler = _INTRINSICS.get(name)
        if handler is None:
            raise Unresolvable(f"Fn::{name}")
        return handler(self, arg)

    def _get_att(self, arg: Any) -> Any:
        logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
        if (logical, attribute) in self.attributes:
            return self.attributes[(logical, attribute)]
        if logical in self.placeholders:
            return f"local-{logical}-{attribute}"
        raise Unresolvable(f"{logical}.{attribute}")

    def _find_in_map(self, arg: Any) -> Any:
        name, top, second = (self.resolve(part) for part in arg)
        return self.mappings[str(name)][str(top)][str(second)]

    def _if(self, arg: Any) -> Any:
        condition, when_true, when_false = arg
        return self.resolve(when_true if self.conditions[condition] else when_false)

    def _join(self, arg: Any) -> str:
        separator, items = arg
        return str(separator).join(str(i) for i in self.resolve(items))

    def _split(self, arg: Any) -> list[str]:
        separator, text = arg
        return str(self.resolve(text)).split(separator)

    def _select(self, arg: Any) -> Any:
        index, items = arg
        return self.resolve(items)[int(self.resolve(index))]

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return str(self._function("GetAtt", [logical, attribute]))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


_INTRINSICS: dict[str, Callable[[Resolver, Any], Any]] = {
    "GetAtt": Resolver._get_att,
    "If": Resolver._if,
    "FindInMap": Resolver._find_in_map,
    "Equals": lambda r, arg: str(r.resolve(arg[0])) == str(r.resolve(arg[1])),
    "Not": lambda r, arg: not r.resolve(arg[0]),
    "And": lambda r, arg: all(r.resolve(a) for a in arg),
    "Or": lambda r, arg: any(r.resolve(a) for a in arg),
    "Join": Resolver._join,
    "Split": Resolver._split,
    "Select": Resolver._select,
    "Sub": Resolver._sub,
    "GetAZs": lambda r, arg: [f"{REGION}a", f"{REGION}b"],
    "ToJsonString": lambda r, arg: json.dumps(r.resolve(arg)),
}


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValue()


def parameters_with_defaults(template: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        value = overrides.get(name, spec.get("Default", ""))
        if str(spec.get("Type", "")).startswith("CommaDelimitedList") or spec.get("Type") == "List<String>":
            value = [v for v in str(value).split(",") if v] if isinstance(value, str) else list(value)
        values[name] = value
    return values


def evaluate_conditions(template: Mapping[str, Any], resolver: Resolver) -> dict[str, bool]:
    pending = dict(template.get("Conditions") or {})
    while pending:
        progressed = False
        for name, expression in list(pending.items()):
            try:
                resolver.conditions[name] = bool(resolver.resolve(expression))
            except KeyError:
                continue  # refers to a condition not evaluated yet
            del pending[name]
            progressed = True
        if not progressed:
            raise ValueError(f"conditions cannot be evaluated: {sorted(pending)}")
    return resolver.conditions
