"""Create template.yaml's queues, tables and secrets in the local AWS emulator, and each function's setup.

Everything comes from the template, so the local topology and the deployed one cannot drift: a new
queue, index or environment variable in template.yaml appears here without a line changed.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from tuma_cli.local.template import (
    REGION,
    Resolver,
    Unresolvable,
    evaluate_conditions,
    load,
    parameters_with_defaults,
)

PREFIX = "tuma-local"


@dataclass
class FunctionSpec:
    logical_id: str
    directory: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    events: dict[str, dict[str, Any]]

    @property
    def name(self) -> str:
        return self.directory.name


@dataclass
class Topology:
    root: Path
    endpoint: str
    parameters: dict[str, Any]
    conditions: dict[str, bool]
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical id -> Ref, Arn, ...
    functions: dict[str, FunctionSpec] = field(default_factory=dict)  # by directory name
    outputs: dict[str, Any] = field(default_factory=dict)

    def ref(self, logical_id: str) -> Any:
        return self.resources[logical_id]["Ref"]

    def queue_url_for_arn(self, arn: str) -> str:
        for info in self.resources.values():
            if info.get("Arn") == arn and "QueueUrl" in info:
                return str(info["QueueUrl"])
        raise KeyError(arn)


def client(service: str, endpoint: str) -> Any:
    factory: Any = boto3.client  # any service by name: the typed overloads want a literal
    return factory(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - the emulator's dummy keys
    )


def _queue(logical_id: str, props: dict[str, Any], endpoint: str) -> dict[str, Any]:
    name = f"{PREFIX}-{logical_id}"
    attributes: dict[str, str] = {
        key: (json.dumps(props[key]) if isinstance(props[key], dict) else str(props[key]))
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "RedrivePolicy",
            "ReceiveMessageWaitTimeSeconds",
            "MaximumMessageSize",
        )
        if key in props
    }
    if props.get("FifoQueue"):
        name += ".fifo"
        attributes["FifoQueue"] = "true"
    sqs = client("sqs", endpoint)
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"Ref": url, "QueueUrl": url, "Arn": arn, "QueueName": name}


def _table(logical_id: str, props: dict[str, Any], endpoint: str) -> dict[str, Any]:
    name = f"{PREFIX}-{logical_id}"
    dynamodb = client("dynamodb", endpoint)
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if props.get("StreamSpecification"):
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    table = dynamodb.create_table(**request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    info = {"Ref": name, "Arn": table["TableArn"]}
    if table.get("LatestStreamArn"):
        info["StreamArn"] = table["LatestStreamArn"]
    return info


def _secret(logical_id: str, props: dict[str, Any], endpoint: str) -> dict[str, Any]:
    value = props.get("SecretString")
    generate = props.get("GenerateSecretString")
    if value is None and generate:
        length = int(generate.get("PasswordLength", 32))
        template = json.loads(generate.get("SecretStringTemplate", "{}"))
        # As Secrets Manager generates it: with ExcludePunctuation, letters and digits only (the
        # status events' secret must then be base64, as Standard Webhooks reads it).
        alphabet = string.ascii_letters + string.digits
        if not generate.get("ExcludePunctuation"):
            alphabet += "!#$%&()*+,-./:;<=>?@[]^_`{|}~"
        template[generate.get("GenerateStringKey", "password")] = "".join(
            secrets.choice(alphabet) for _ in range(length)
        )
        value = json.dumps(template)
    arn = client("secretsmanager", endpoint).create_secret(
        Name=f"{PREFIX}/{logical_id}", SecretString=value or "{}"
    )["ARN"]
    return {"Ref": arn, "Id": arn}


def _topic(logical_id: str, props: dict[str, Any], endpoint: str) -> dict[str, Any]:
    name = f"{PREFIX}-{logical_id}"
    arn = client("sns", endpoint).create_topic(Name=name)["TopicArn"]
    return {"Ref": arn, "TopicArn": arn, "TopicName": name}


def _subscription(logical_id: str, props: dict[str, Any], endpoint: str) -> dict[str, Any]:
    arn = client("sns", endpoint).subscribe(
        TopicArn=props["TopicArn"],
        Protocol=props["Protocol"],
        Endpoint=props["Endpoint"],
        Attributes={"RawMessageDelivery": str(props.get("RawMessageDelivery", False)).lower()},
    )["SubscriptionArn"]
    return {"Ref": arn}


# What each created type becomes in the emulator; everything else in the template is a placeholder.
CREATORS: dict[str, Callable[[str, dict[str, Any], str], dict[str, Any]]] = {
    "AWS::SQS::Queue": _queue,
    "AWS::DynamoDB::Table": _table,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::SNS::Topic": _topic,
    "AWS::SNS::Subscription": _subscription,
}


def provision(root: Path, endpoint: str, overrides: Mapping[str, Any] | None = None) -> Topology:
    """Create every local resource of `root/template.yaml` in the emulator at `endpoint`."""
    template = load(root / "template.yaml")
    resources: dict[str, Any] = template.get("Resources") or {}
    parameters = parameters_with_defaults(template, overrides or {})
    resolver = Resolver(parameters, mappings=dict(template.get("Mappings") or {}))
    conditions = evaluate_conditions(template, resolver)
    topology = Topology(root, endpoint, parameters, conditions)

    def included(spec: Mapping[str, Any]) -> bool:
        condition = spec.get("Condition")
        return condition is None or conditions[condition]

    resolver.placeholders = {
        logical for logical, spec in resources.items() if spec["Type"] not in CREATORS or not included(spec)
    }
    pending = {
        logical: spec for logical, spec in resources.items() if spec["Type"] in CREATORS and included(spec)
    }
    _create_all(pending, resolver, topology)

    globals_ = ((template.get("Globals") or {}).get("Function")) or {}
    for logical, spec in resources.items():
        if spec["Type"] == "AWS::Serverless::Function" and included(spec):
            resolver.refs.setdefault(logical, f"{PREFIX}-{logical}")
            function = _function_spec(root, logical, spec.get("Properties") or {}, globals_, resolver)
            topology.functions[function.name] = function
    for name, output in (template.get("Outputs") or {}).items():
        try:
            topology.outputs[name] = resolver.resolve(output.get("Value"))
        except (Unresolvable, KeyError):
            continue
    return topology


def _create_all(pending: dict[str, Any], resolver: Resolver, topology: Topology) -> None:
    """Create resources in the order their references allow (a queue after its dead-letter queue)."""
    while pending:
        progressed = False
        for logical, spec in list(pending.items()):
            try:
                props = resolver.resolve(spec.get("Properties") or {})
            except Unresolvable:
                continue
            info = CREATORS[spec["Type"]](logical, props, topology.endpoint)
            topology.resources[logical] = info
            resolver.refs[logical] = info["Ref"]
            for attribute, value in info.items():
                resolver.attributes[(logical, attribute)] = value
            del pending[logical]
            progressed = True
        if not progressed:
            raise ValueError(f"cannot create {sorted(pending)}: unresolved references")


def _function_spec(
    root: Path, logical: str, props: Mapping[str, Any], globals_: Mapping[str, Any], resolver: Resolver
) -> FunctionSpec:
    variables = {
        **(((globals_.get("Environment") or {}).get("Variables")) or {}),
        **(((props.get("Environment") or {}).get("Variables")) or {}),
    }
    return FunctionSpec(
        logical_id=logical,
        directory=root / str(props["CodeUri"]).rstrip("/"),
        handler=str(props.get("Handler", globals_.get("Handler", "app.lambda_handler"))),
        environment={k: _text(resolver.resolve(v)) for k, v in variables.items()},
        timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
        events={name: resolver.resolve(event) for name, event in (props.get("Events") or {}).items()},
    )


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
