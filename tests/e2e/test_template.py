"""template.yaml as CloudFormation will see it: transformed by samtranslator, then checked for what matters."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import sam_cli, sam_env, sam_transform
from tuma_cli.local.template import load

if TYPE_CHECKING:
    from tuma_cli.local.template import Resolver

pytestmark = pytest.mark.e2e
SAFARICOM_IPS = ("196.201.214.200", "196.201.214.206")  # example values for the transform
FORBIDDEN_IN_CALLBACKS = ("mpesa", "safaricom", "exe", "exec", "cmd", "sql", "query")
# Building blocks a function needs to call the provider: whatever uses them must egress through the NAT.
PROVIDER_WIRING = re.compile(r"wiring\.(outbox_dispatcher|balance_monitors?|reconciler|provider_client)\(")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return sam_transform(f"SafaricomCallbackIps={','.join(SAFARICOM_IPS)}")


def _resources(transformed: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: spec for name, spec in transformed["Resources"].items() if spec["Type"] == kind}


def _functions_calling_the_provider(template: dict[str, Any]) -> set[str]:
    found = set()
    for name, spec in template["Resources"].items():
        if spec["Type"] == "AWS::Serverless::Function":
            code = (ROOT / spec["Properties"]["CodeUri"] / "app.py").read_text()
            if PROVIDER_WIRING.search(code):
                found.add(name)
    return found


def _design_functions() -> dict[str, str]:
    """docs/design.md's Functions table: directory -> the settings model its handler loads."""
    text = (ROOT / "docs" / "design.md").read_text()
    table = text.split("## Functions", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `functions/(\w+)` \|.*\| `(\w+)` \|$", table, re.MULTILINE))


# Each function's settings model (tuma.runtime.settings.<function>): what it may read. The table in
# docs/design.md is the one list; each handler must load the model the table names.
SETTINGS_MODELS = _design_functions()


def test_the_functions_of_design_md_exist(template: dict[str, Any]) -> None:
    functions = {
        spec["Properties"]["CodeUri"].strip("/").split("/")[-1]
        for spec in template["Resources"].values()
        if spec["Type"] == "AWS::Serverless::Function"
    }
    assert len(SETTINGS_MODELS) >= 8
    assert functions == set(SETTINGS_MODELS)
    for name, model in SETTINGS_MODELS.items():
        code = (ROOT / "functions" / name / "app.py").read_text()
        assert re.findall(r"\bload\((\w+)\)", code) == [model], name


def test_provider_callers_are_in_the_private_subnets_behind_one_nat(
    template: dict[str, Any], transformed: dict[str, Any]
) -> None:
    callers = _functions_calling_the_provider(template)
    assert callers == {"OutboxSenderFunction", "BalanceMonitorFunction", "ReconcilerFunction"}
    resources = transformed["Resources"]
    for name in callers:
        vpc = resources[name]["Properties"]["VpcConfig"]
        assert vpc["SubnetIds"]["Fn::If"][0] == "CreateVpc"
        assert vpc["SubnetIds"]["Fn::If"][1] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]
        assert vpc["SecurityGroupIds"]["Fn::If"][1] == [{"Ref": "FunctionSecurityGroup"}]
    routes = {
        a["Properties"]["SubnetId"]["Ref"]: a["Properties"]["RouteTableId"]["Ref"]
        for a in _resources(transformed, "AWS::EC2::SubnetRouteTableAssociation").values()
    }
    assert routes["PrivateSubnetA"] == routes["PrivateSubnetB"] == "PrivateRouteTable"
    default_routes = [
        r["Properties"]
        for r in _resources(transformed, "AWS::EC2::Route").values()
        if r["Properties"]["RouteTableId"] == {"Ref": "PrivateRouteTable"}
    ]
    assert default_routes == [
        {
            "RouteTableId": {"Ref": "PrivateRouteTable"},
            "DestinationCidrBlock": "0.0.0.0/0",
            "NatGatewayId": {"Ref": "NatGateway"},
        }
    ]
    [nat] = _resources(transformed, "AWS::EC2::NatGateway").values()
    assert nat["Properties"]["AllocationId"] == {"Fn::GetAtt": ["NatEip", "AllocationId"]}
    assert nat["Properties"]["SubnetId"] == {"Ref": "PublicSubnet"}
    [eip] = _resources(transformed, "AWS::EC2::EIP").values()
    assert eip["DeletionPolicy"] == "Retain"  # the allowlisted address outlives a stack update
    assert {
        a["Properties"]["AvailabilityZone"]["Fn::Select"][0]
        for a in (resources["PrivateSubnetA"], resources["PrivateSubnetB"])
    } == {0, 1}
    [endpoint] = _resources(transformed, "AWS::EC2::VPCEndpoint").values()
    assert endpoint["Properties"]["VpcEndpointType"] == "Gateway"
    assert endpoint["Properties"]["RouteTableIds"] == [{"Ref": "PrivateRouteTable"}]
    assert transformed["Outputs"]["ProviderEgressIp"]["Value"] == {"Ref": "NatEip"}


def _built(template: dict[str, Any], mode: str) -> set[str]:
    """The resources CloudFormation creates with NetworkMode=`mode` (conditions evaluated)."""
    from tuma_cli.local.template import Resolver, evaluate_conditions, parameters_with_defaults

    parameters = parameters_with_defaults(
        template,
        {"NetworkMode": mode}
        | (
            {"ExistingSubnetIds": "subnet-1", "ExistingSecurityGroupIds": "sg-1"}
            if mode == "ExistingSubnets"
            else {}
        ),
    )
    conditions = evaluate_conditions(template, Resolver(parameters))
    return {
        name
        for name, spec in template["Resources"].items()
        if "Condition" not in spec or conditions[spec["Condition"]]
    }


def test_each_network_mode_builds_one_way_out(template: dict[str, Any]) -> None:
    gateway, instance, existing = (
        _built(template, m) for m in ("CreateVpc", "CreateVpcNatInstance", "ExistingSubnets")
    )
    nat_instance = {
        "NatInstanceSecurityGroup",
        "NatInstanceRole",
        "NatInstanceProfile",
        "NatLaunchTemplate",
        "NatAutoScalingGroup",
        "NatInstanceUnhealthyAlarm",
    }
    assert {"NatGateway", "PrivateDefaultRoute"} <= gateway and not nat_instance & gateway
    assert nat_instance <= instance and not {"NatGateway", "PrivateDefaultRoute"} & instance
    # The same fixed address and private subnets either way; nothing of it with your own subnets.
    for shared in ("NatEip", "PrivateSubnetA", "PrivateSubnetB", "PrivateRouteTable", "DynamoDBEndpoint"):
        assert shared in gateway and shared in instance and shared not in existing
    assert not (nat_instance | {"NatGateway"}) & existing


def test_the_nat_instance_takes_the_fixed_address_and_the_route_and_recovers_by_itself(
    transformed: dict[str, Any],
) -> None:
    resources = transformed["Resources"]
    group = resources["NatAutoScalingGroup"]["Properties"]
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == ("1", "2", "1")
    assert group["VPCZoneIdentifier"] == [{"Ref": "PublicSubnet"}]
    assert group["HealthCheckType"] == "EC2"  # failed status checks: a new instance
    assert group["LaunchTemplate"]["Version"] == {"Fn::GetAtt": ["NatLaunchTemplate", "LatestVersionNumber"]}

    data = resources["NatLaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["ImageId"] == {"Ref": "NatInstanceImage"}
    image = transformed["Parameters"]["NatInstanceImage"]
    assert image["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert image["Default"].startswith("/aws/service/ami-amazon-linux-latest/") and image["Default"].endswith(
        "-arm64"
    )
    assert transformed["Parameters"]["NatInstanceType"]["Default"].startswith("t4g.")
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    [interface] = data["NetworkInterfaces"]
    assert interface["Groups"] == [{"Ref": "NatInstanceSecurityGroup"}]

    script = data["UserData"]["Fn::Base64"]["Fn::Sub"]
    for step in (
        "net.ipv4.ip_forward=1",
        "-j MASQUERADE",
        "systemctl enable --now tuma-nat.service",  # rules back after a reboot
        "--no-source-dest-check",
        "associate-address --region ${AWS::Region} --allocation-id ${NatEip.AllocationId}",
        "--allow-reassociation",
        "replace-route --region ${AWS::Region} --route-table-id ${PrivateRouteTable} --destination-cidr-block 0.0.0.0/0",
        "create-route --region ${AWS::Region} --route-table-id ${PrivateRouteTable}",
    ):
        assert step in script, step

    statements = {
        s["Sid"]: s
        for policy in resources["NatInstanceRole"]["Properties"]["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
    }
    assert statements["ThePrivateRoute"]["Resource"]["Fn::Sub"].endswith(":route-table/${PrivateRouteTable}")
    assert any(
        "elastic-ip/${NatEip.AllocationId}" in r["Fn::Sub"] for r in statements["TheFixedAddress"]["Resource"]
    )
    assert (
        "aws:ResourceTag/tuma:nat" in statements["ItsOwnSourceDestinationCheck"]["Condition"]["StringEquals"]
    )

    ingress = resources["NatInstanceSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert {rule["CidrIp"] for rule in ingress} == {resources["Vpc"]["Properties"]["CidrBlock"]}

    alarm = resources["NatInstanceUnhealthyAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/AutoScaling", "GroupInServiceInstances")
    assert alarm["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": {"Ref": "NatAutoScalingGroup"}}]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}] and alarm["TreatMissingData"] == "breaching"
    assert group["MetricsCollection"][0]["Metrics"] == ["GroupInServiceInstances"]
    assert transformed["Outputs"]["ProviderEgressIp"]["Condition"] == "CreateVpc"


def test_every_asynchronous_source_has_a_failure_destination(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    mappings = _resources(transformed, "AWS::Lambda::EventSourceMapping")
    assert mappings
    for name, mapping in mappings.items():
        props = mapping["Properties"]
        source = props["EventSourceArn"]
        if "Fn::GetAtt" in source and resources[source["Fn::GetAtt"][0]]["Type"] == "AWS::SQS::Queue":
            queue = resources[source["Fn::GetAtt"][0]]["Properties"]
            assert "deadLetterTargetArn" in queue["RedrivePolicy"], name
            assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        else:  # the payments stream, the ledger's stream
            assert props["DestinationConfig"]["OnFailure"]["Destination"], name
            assert props["BisectBatchOnFunctionError"] is True
            assert 0 < props["MaximumRetryAttempts"] <= 10
            if "Payment" in name:
                assert props["FilterCriteria"]["Filters"], "only completing changes should invoke"
    for name, rule in _resources(transformed, "AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            assert target["DeadLetterConfig"]["Arn"], name
    for name, subscription in _resources(transformed, "AWS::SNS::Subscription").items():
        if subscription["Properties"]["Protocol"] == "sqs":
            queue = subscription["Properties"]["Endpoint"]["Fn::GetAtt"][0]
            assert "RedrivePolicy" in resources[queue]["Properties"], name


def test_every_function_runs_on_the_powertools_layer_then_tumas(transformed: dict[str, Any]) -> None:
    functions = _resources(transformed, "AWS::Lambda::Function")
    # CloudFormation's custom resource for ApiGatewayLoggingRole=IfMissing: inline, boto3 only.
    functions.pop("ApiGatewayLoggingRoleSetter")
    assert len(functions) == len(SETTINGS_MODELS)
    for name, function in functions.items():
        props = function["Properties"]
        powertools, tuma = props["Layers"]
        # SAM names the layer version after a hash of its content.
        assert tuma["Ref"].startswith("TumaLayer"), name
        assert transformed["Resources"][tuma["Ref"]]["Type"] == "AWS::Lambda::LayerVersion"
        # The ARN of the tested release in the deploying region, from Powertools' public SSM
        # parameter (tests/unit/test_powertools_version.py keeps its path and the pin together).
        assert powertools == {"Ref": "PowertoolsLayer"}, name
        runtime = props["Runtime"]
        [architecture] = props["Architectures"]
        default = transformed["Parameters"]["PowertoolsLayer"]["Default"]
        assert default.startswith(f"/aws/service/powertools/python/{architecture}/{runtime}/"), name


def test_the_outbox_queue_outlasts_the_sender_and_respects_the_provider(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    timeout = resources["OutboxSenderFunction"]["Properties"]["Timeout"]
    for queue in ("OutboxQueue", "FastOutboxQueue"):
        assert resources[queue]["Properties"]["VisibilityTimeout"] >= 6 * timeout
    mappings = {
        m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]: m["Properties"]
        for m in _resources(transformed, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": "OutboxSenderFunction"}
    }
    assert set(mappings) == {"OutboxQueue", "FastOutboxQueue"}
    lanes = {"OutboxQueue": "Bulk", "FastOutboxQueue": "Fast"}
    for queue, mapping in mappings.items():
        assert mapping["ScalingConfig"]["MaximumConcurrency"] == {
            "Fn::FindInMap": ["LaneConcurrency", {"Ref": "ProviderMaxConcurrency"}, lanes[queue]]
        }
    # Both lanes together never call the provider more often at once than ProviderMaxConcurrency.
    shares = transformed["Mappings"]["LaneConcurrency"]
    allowed = transformed["Parameters"]["ProviderMaxConcurrency"]["AllowedValues"]
    assert {str(v) for v in allowed} == set(shares)
    for total, share in shares.items():
        assert share["Fast"] + share["Bulk"] == int(total) and min(share.values()) >= 2, total
    # Bulk fills one sendbulk call per batch; the fast lane never waits for a window.
    assert mappings["OutboxQueue"]["BatchSize"] == 100
    assert mappings["FastOutboxQueue"]["BatchSize"] == 10
    assert "MaximumBatchingWindowInSeconds" not in mappings["FastOutboxQueue"]


def _unless(value: Any) -> Any:
    """The branch of a condition that grants something (the other is AWS::NoValue)."""
    return value["Fn::If"][1] if isinstance(value, dict) and "Fn::If" in value else value


def _statements(transformed: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for role_name, role in _resources(transformed, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            statements = _unless(policy)["PolicyDocument"]["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                granted = _unless(statement)
                if isinstance(granted, dict) and "Effect" in granted:
                    yield role_name, granted


# Actions IAM only grants on "*" (they have no resource-level permissions).
STAR_ONLY = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "cloudwatch:PutMetricData",
    "ec2:DescribeRouteTables",  # the NAT instance checks its own route
}


def test_no_function_gets_star_on_a_resource_it_does_not_need(transformed: dict[str, Any]) -> None:
    checked = 0
    for role, statement in _statements(transformed):
        checked += 1
        resources = statement.get("Resource")
        resources = resources if isinstance(resources, list) else [resources]
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if "*" in resources:
            assert set(actions) <= STAR_ONLY, (role, actions)
        assert not any(a == "*" or a.endswith(":*") for a in actions), (role, actions)
    assert checked >= 10
    for role_spec in _resources(transformed, "AWS::IAM::Role").values():
        for arn in role_spec["Properties"].get("ManagedPolicyArns", []):
            text = json.dumps(arn)
            assert "AdministratorAccess" not in text and "FullAccess" not in text


def test_webhook_routes_are_the_published_ones_and_safe_for_safaricom(template: dict[str, Any]) -> None:
    paths = {
        event["Properties"]["Path"]
        for spec in template["Resources"].values()
        if spec["Type"] == "AWS::Serverless::Function"
        for event in (spec["Properties"].get("Events") or {}).values()
        if event["Type"] == "Api"
    }
    published = set(json.loads((ROOT / "docs" / "openapi.json").read_text())["paths"])
    assert paths == published
    assert not [p for p in paths for word in FORBIDDEN_IN_CALLBACKS if word in p.lower()]
    urls = [json.dumps(o["Value"]) for name, o in template["Outputs"].items() if name.endswith("Url")]
    assert not [u for u in urls for word in FORBIDDEN_IN_CALLBACKS if word in u.split("/v1", 1)[-1].lower()]


WEBHOOK_URL_OUTPUTS = (
    "WebhooksBaseUrl",
    "C2BValidationUrl",
    "C2BConfirmationUrl",
    "StkCallbackUrl",
    "StatusResultUrl",
)
CERTIFICATE = "arn:aws:acm:af-south-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"


def test_a_custom_domain_gives_daraja_urls_safaricom_accepts(template: dict[str, Any]) -> None:
    from tuma.services.daraja_setup import url_problems

    from tuma_cli.local.template import Resolver, evaluate_conditions, parameters_with_defaults

    given = {"CustomDomainName": "pay.example.co.ke", "CustomDomainCertificateArn": CERTIFICATE}
    transformed = sam_transform(*(f"{k}={v}" for k, v in (given | {"CustomDomainBasePath": "tuma"}).items()))
    [domain] = _resources(transformed, "AWS::ApiGateway::DomainName").values()
    assert domain["Condition"] == "HasCustomDomain" and domain["Properties"]["SecurityPolicy"] == "TLS_1_2"
    assert domain["Properties"]["RegionalCertificateArn"] == {"Ref": "CustomDomainCertificateArn"}
    [mapping] = _resources(transformed, "AWS::ApiGateway::BasePathMapping").values()
    stages = _resources(transformed, "AWS::ApiGateway::Stage")
    assert mapping["Properties"]["Stage"] == {"Ref": next(iter(stages))}  # the v1 stage SAM made
    # The URLs the stack outputs, as CloudFormation resolves them, with and without a base path.
    for base_path, base in (("", "https://pay.example.co.ke"), ("tuma", "https://pay.example.co.ke/tuma")):
        resolver = Resolver(parameters_with_defaults(template, given | {"CustomDomainBasePath": base_path}))
        resolver.refs["WebhooksApi"] = "a1b2c3"
        evaluate_conditions(template, resolver)
        outputs = {name: resolver.resolve(template["Outputs"][name]["Value"]) for name in WEBHOOK_URL_OUTPUTS}
        assert outputs["WebhooksBaseUrl"] == base
        assert outputs["C2BConfirmationUrl"] == base + "/payments/c2b/confirmation/{token}"
        assert url_problems(outputs["C2BConfirmationUrl"].replace("{token}", "t" * 48), "t" * 48) == []
    # Without one, the URLs are API Gateway's, whose host Safaricom's rule refuses: tuma daraja register says so.
    resolver = Resolver(parameters_with_defaults(template, {}))
    resolver.refs["WebhooksApi"] = "a1b2c3"
    evaluate_conditions(template, resolver)
    default = resolver.resolve(template["Outputs"]["C2BConfirmationUrl"]["Value"])
    assert default.startswith("https://a1b2c3.execute-api.") and url_problems(default, "{token}")


def test_every_webhook_route_takes_every_method_so_that_the_function_answers_405(
    transformed: dict[str, Any],
) -> None:
    [api] = _resources(transformed, "AWS::ApiGateway::RestApi").values()
    paths = api["Properties"]["Body"]["paths"]
    assert paths and all(list(methods) == ["x-amazon-apigateway-any-method"] for methods in paths.values())


def test_callback_routes_can_be_limited_to_safaricom(transformed: dict[str, Any]) -> None:
    [api] = _resources(transformed, "AWS::ApiGateway::RestApi").values()
    allow, deny = api["Properties"]["Body"]["x-amazon-apigateway-policy"]["Statement"]
    assert allow["Effect"] == "Allow"
    condition, statement, otherwise = deny["Fn::If"]
    assert (condition, otherwise) == ("HasCallbackIps", {"Ref": "AWS::NoValue"})
    assert statement["Effect"] == "Deny"
    assert statement["Resource"] == [
        "execute-api:/*/*/payments/c2b/*",
        "execute-api:/*/*/payments/stk/*",
        "execute-api:/*/*/payments/status-results/*",
        "execute-api:/*/*/payments/pull/*",
    ]
    assert statement["Condition"]["NotIpAddress"]["aws:SourceIp"] == list(SAFARICOM_IPS)


# Safaricom's published callback addresses (docs/design.md says where the list comes from).
PUBLISHED_SAFARICOM_IPS = (
    "196.201.214.200",
    "196.201.214.206",
    "196.201.214.207",
    "196.201.214.208",
    "196.201.213.114",
    "196.201.213.44",
    "196.201.212.127",
    "196.201.212.129",
    "196.201.212.136",
    "196.201.212.138",
    "196.201.212.69",
    "196.201.212.74",
)


def test_only_safaricoms_published_addresses_may_call_the_daraja_routes_by_default(
    template: dict[str, Any],
) -> None:
    from tuma_cli.local.template import Resolver, evaluate_conditions, parameters_with_defaults

    default = template["Parameters"]["SafaricomCallbackIps"]["Default"].split(",")
    assert tuple(default) == PUBLISHED_SAFARICOM_IPS
    design = (ROOT / "docs" / "design.md").read_text()
    assert all(ip.rsplit(".", 1)[-1] in design for ip in PUBLISHED_SAFARICOM_IPS) and "mpesakit" in design
    for given, limited in (({}, True), ({"SafaricomCallbackIps": "open"}, False)):
        conditions = evaluate_conditions(template, Resolver(parameters_with_defaults(template, given)))
        assert conditions["HasCallbackIps"] is limited  # the resource policy's Deny, and the metric filter
    resources = template["Resources"]
    assert resources["DarajaCallbacksRefusedAtGateway"]["Condition"] == "HasCallbackIps"
    assert "Condition" not in resources["ForgedCallbacksAlarm"]  # lean or full, with or without the list
    webhooks = resources["WebhooksFunction"]["Properties"]
    variables = webhooks["Environment"]["Variables"]
    assert variables["DARAJA_CALLBACK_IPS"] == {"Fn::Join": [",", {"Ref": "SafaricomCallbackIps"}]}
    assert variables["DARAJA_CALLBACK_SECRET"] == {"Ref": "DarajaCallbackSecret"}
    assert variables["PROVIDER_CALLBACK_SECRET"] == {"Ref": "ProviderCallbackSecret"}
    readable = [
        p["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]
        for p in webhooks["Policies"]
        if isinstance(p, dict) and "AWSSecretsManagerGetSecretValuePolicy" in p
    ]
    assert {"Ref": "DarajaCallbackSecret"} in readable and {"Ref": "ProviderCallbackSecret"} in readable
    for caller in ("DarajaCallbackSecret", "ProviderCallbackSecret"):
        generated = resources[caller]["Properties"]["GenerateSecretString"]
        # Random, made by Secrets Manager; the stack's first token accepted until the first rotation.
        assert (generated["GenerateStringKey"], generated["PasswordLength"]) == ("token", 48)
        assert json.loads(generated["SecretStringTemplate"]) == {"legacy": True}
    notifier = resources["StatusNotifierFunction"]["Properties"]["Environment"]["Variables"]
    assert "DARAJA_CALLBACK_SECRET" not in notifier and "PROVIDER_CALLBACK_SECRET" not in notifier


def test_the_local_topology_creates_every_queue_table_and_secret_of_the_template(
    template: dict[str, Any], tmp_path: Path
) -> None:
    from moto.server import ThreadedMotoServer

    from tuma_cli.local.provision import CREATORS, provision

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        topology = provision(ROOT, f"http://{host}:{port}")
    finally:
        server.stop()
    off_by_default = {
        "CreateCustomersTable",
        "HasAlarmEmail",
        "HasStatusCallback",
        "HasSecondaryProvider",
        "HasDaraja",
    }
    expected = {
        name
        for name, spec in template["Resources"].items()
        if spec["Type"] in CREATORS and spec.get("Condition") not in off_by_default
    }
    assert set(topology.resources) == expected
    assert set(topology.functions) == {
        spec["Properties"]["CodeUri"].strip("/").split("/")[-1]
        for spec in template["Resources"].values()
        if spec["Type"] == "AWS::Serverless::Function" and spec.get("Condition") not in off_by_default
    }
    assert {"outbox_sender", "payment_stream", "webhooks", "balance_monitor", "reconciler"} <= set(
        topology.functions
    )


def _run_sam(*args: str) -> None:
    result = subprocess.run(
        [sam_cli(), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=sam_env(),
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_sam_validate_lint_passes() -> None:
    _run_sam("validate", "--lint")


def test_sam_build_produces_an_arm64_layer_with_the_package(tmp_path: Path) -> None:
    _run_sam("build", "--build-dir", str(tmp_path / "build"))
    layer = tmp_path / "build" / "TumaLayer" / "python"
    assert (layer / "tuma" / "templates" / "receipt.sw.j2").is_file()
    assert list(layer.glob("pydantic_core/*aarch64*.so")), "the layer must carry arm64 wheels"
    assert (layer / "pydantic-2.14.4.dist-info").is_dir()
    # Powertools comes from AWS's layer: a second copy here would shadow it.
    assert not (layer / "aws_lambda_powertools").exists()
    # Bytecode for every module, for Python 3.13, trusted without a look at the sources' times
    # (flags 0b01: hash-based, unchecked): /opt is read-only, so a missing or stale .pyc would be
    # compiled again at every cold start (layers/tuma/Makefile).
    sources = sorted(layer.rglob("*.py"))
    assert len(sources) > 500
    missing = [s for s in sources if not (s.parent / "__pycache__" / f"{s.stem}.cpython-313.pyc").is_file()]
    assert missing == []
    flags = {int.from_bytes(p.read_bytes()[4:8], "little") for p in layer.rglob("*.cpython-313.pyc")}
    assert flags == {0b01}
    assert all(p.name.endswith(".cpython-313.pyc") for p in layer.rglob("*.pyc"))


def test_every_resource_sam_generates_is_in_the_cost_model(transformed: dict[str, Any]) -> None:
    from bench import cost

    types = {resource["Type"] for resource in transformed["Resources"].values()}
    unknown = types - set(cost.BILLED) - set(cost.FREE_TYPES)
    assert not unknown, f"add these to bench/cost.py's BILLED or FREE_TYPES: {sorted(unknown)}"


READ_BY_LIBRARIES = ("POWERTOOLS_", "PYDANTIC_")


def _design_config() -> dict[str, tuple[set[str], bool]]:
    """docs/design.md's configuration table: variable -> (who uses it, whether the template sets it)."""
    text = (ROOT / "docs" / "design.md").read_text()
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    found: dict[str, tuple[set[str], bool]] = {}
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        variables, users = line.split("|")[1:3]
        templated = "(no template value)" not in users and "(local only)" not in users
        names = {u.strip() for u in users.split("(")[0].split(",") if u.strip()}
        if "all" in names:
            names = (names - {"all"}) | set(SETTINGS_MODELS)
        if any(n.startswith("every function") for n in names):
            names = {n for n in names if not n.startswith("every function")} | {"(readers of secrets)"}
        for variable in re.findall(r"`([A-Z0-9_]+)`", variables):
            found[variable] = (names - {"CLI"}, templated)
    return found


def test_each_function_gets_exactly_the_variables_its_model_reads_and_design_md_names(
    template: dict[str, Any],
) -> None:
    import importlib

    globals_ = set(template["Globals"]["Function"]["Environment"]["Variables"])
    given: dict[str, set[str]] = {}
    fields: dict[str, set[str]] = {}
    for spec in template["Resources"].values():
        if spec["Type"] != "AWS::Serverless::Function":
            continue
        name = spec["Properties"]["CodeUri"].strip("/").split("/")[-1]
        own = ((spec["Properties"].get("Environment") or {}).get("Variables")) or {}
        given[name] = globals_ | set(own)
        module = importlib.import_module(f"tuma.runtime.settings.{name}")
        fields[name] = set(getattr(module, SETTINGS_MODELS[name]).model_fields)
    assert set(given) == set(SETTINGS_MODELS)
    design = _design_config()
    for function, variables in given.items():
        for variable in variables:
            assert variable.startswith(READ_BY_LIBRARIES) or variable in fields[function], (
                f"{function} is given {variable}, which its settings model does not read"
            )
            assert variable in design, f"{variable} is set in template.yaml but not in docs/design.md"
    for variable, (users, templated) in design.items():
        set_on = {f for f, variables in given.items() if variable in variables}
        if templated:
            assert set_on == users, (
                f"{variable}: template.yaml gives it to {sorted(set_on)}, design.md says {sorted(users)}"
            )
        else:
            assert not set_on, f"{variable} has a template value but design.md says it has none"
    # Every variable a model can read is documented (a shared part may offer a function a variable
    # it never gets; then its default stands).
    for function, names in fields.items():
        for field in names:
            assert field in design, f"{function} reads {field}, which docs/design.md does not list"


# -- what a real account enforces and moto does not (issue 19): each trap, held on the transformed template


def _statements_of(transformed: dict[str, Any], role_name: str) -> list[dict[str, Any]]:
    return [statement for role, statement in _statements(transformed) if role == role_name]


def test_no_topic_or_queue_an_aws_service_writes_to_is_under_an_aws_managed_key(
    transformed: dict[str, Any],
) -> None:
    resources = transformed["Resources"]
    written_by_services: dict[str, str] = {}
    for name, alarm in _resources(transformed, "AWS::CloudWatch::Alarm").items():
        for action in alarm["Properties"].get("AlarmActions", []) + alarm["Properties"].get("OKActions", []):
            written_by_services[action["Ref"]] = f"CloudWatch ({name})"
    for name, subscription in _resources(transformed, "AWS::SNS::Subscription").items():
        endpoint = subscription["Properties"]["Endpoint"]
        if isinstance(endpoint, dict) and "Fn::GetAtt" in endpoint:
            written_by_services[endpoint["Fn::GetAtt"][0]] = f"SNS ({name})"
    for name, rule in _resources(transformed, "AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            written_by_services[target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]] = f"EventBridge ({name})"
    assert {"AlarmTopic", "FastOutboxQueue", "BalanceMonitorDeadLetterQueue"} <= set(written_by_services)
    for name, writer in written_by_services.items():
        key = resources[name]["Properties"].get("KmsMasterKeyId")
        # The AWS-managed keys' policies admit no AWS service but their own: the writes would fail.
        assert key is None or not str(key).startswith("alias/aws/"), (
            f"{name} is written by {writer} under {key}"
        )
    for name, spec in resources.items():
        if spec["Type"] in ("AWS::SNS::Topic", "AWS::SQS::Queue"):
            assert not str(spec["Properties"].get("KmsMasterKeyId", "")).startswith("alias/aws/"), name


def test_the_api_has_one_stage_v1_with_its_throttling_and_logs(transformed: dict[str, Any]) -> None:
    stages = _resources(transformed, "AWS::ApiGateway::Stage")
    assert [s["Properties"]["StageName"] for s in stages.values()] == ["v1"]
    [stage] = stages.values()
    assert stage["Properties"]["MethodSettings"][0]["ThrottlingRateLimit"] == 50
    assert stage["Properties"]["AccessLogSetting"]["DestinationArn"]


def _rules_pass(template: dict[str, Any], values: dict[str, str]) -> bool:
    """Evaluate the template's Rules for these parameter values, as CloudFormation does at deploy."""
    from tuma_cli.local.template import Resolver, parameters_with_defaults

    resolver = Resolver(parameters_with_defaults(template, values))
    ok = True
    for rule in template["Rules"].values():
        condition = rule.get("RuleCondition")
        if condition is not None and not resolver.resolve(condition):
            continue
        for assertion in rule["Assertions"]:
            ok = ok and bool(_evaluate_rule(resolver, assertion["Assert"]))
    return ok


def _evaluate_rule(resolver: Resolver, expression: Any) -> Any:
    if isinstance(expression, dict) and "Fn::Contains" in expression:
        items, value = expression["Fn::Contains"]
        return str(resolver.resolve(value)) in [str(i) for i in items]
    if isinstance(expression, dict) and "Fn::Or" in expression:
        return any(_evaluate_rule(resolver, e) for e in expression["Fn::Or"])
    if isinstance(expression, dict) and "Fn::Not" in expression:
        return not _evaluate_rule(resolver, expression["Fn::Not"][0])
    return resolver.resolve(expression)


def test_reserved_concurrency_is_bounded_and_never_below_what_the_provider_may_take(
    template: dict[str, Any],
) -> None:
    caps = template["Parameters"]["FunctionConcurrencyCap"]["AllowedValues"]
    providers = template["Parameters"]["ProviderMaxConcurrency"]["AllowedValues"]
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    # A standard account (1,000) must keep 100 unreserved: every function capped at the most allowed fits.
    assert max(caps) * len(functions) <= 900
    base = {"NetworkMode": "CreateVpc", "ExistingSubnetIds": "", "ExistingSecurityGroupIds": ""}
    for provider in providers:
        for cap in caps:
            expected = cap == 0 or cap >= provider
            values = base | {"ProviderMaxConcurrency": str(provider), "FunctionConcurrencyCap": str(cap)}
            assert _rules_pass(template, values) is expected, (provider, cap)


def test_every_queue_a_function_reads_outlasts_six_of_its_timeouts(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    checked = 0
    for mapping in _resources(transformed, "AWS::Lambda::EventSourceMapping").values():
        source = mapping["Properties"]["EventSourceArn"]
        if "Fn::GetAtt" not in source or resources[source["Fn::GetAtt"][0]]["Type"] != "AWS::SQS::Queue":
            continue
        queue = resources[source["Fn::GetAtt"][0]]["Properties"]
        function = resources[mapping["Properties"]["FunctionName"]["Ref"]]["Properties"]
        assert queue["VisibilityTimeout"] >= 6 * function["Timeout"], source
        checked += 1
    assert checked >= 3  # the two outbox lanes and the status events, at least


def test_a_payments_stream_without_new_images_reaches_the_function_instead_of_being_dropped(
    transformed: dict[str, Any],
) -> None:
    from tuma_cli.local.stream_poller import matches

    [mapping] = [
        m["Properties"]
        for m in _resources(transformed, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": "PaymentStreamFunction"}
    ]
    patterns = [
        json.loads(
            f["Pattern"]["Fn::Sub"]
            .replace("${PaymentsStatusAttribute}", "status")
            .replace("${PaymentsCompletedStatus}", "COMPLETED")
        )
        if isinstance(f["Pattern"], dict)
        else json.loads(f["Pattern"])
        for f in mapping["FilterCriteria"]["Filters"]
    ]
    keys_only = {
        "eventName": "INSERT",
        "dynamodb": {"Keys": {"payment_id": {"S": "p1"}}, "StreamViewType": "KEYS_ONLY"},
    }
    pending = {
        "eventName": "INSERT",
        "dynamodb": {"NewImage": {"status": {"S": "PENDING"}}, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }
    assert any(matches(p, keys_only) for p in patterns)  # the function records it REJECTED with the fix
    assert not any(matches(p, pending) for p in patterns)


def test_an_existing_secret_must_be_a_full_arn_and_its_customer_key_is_granted(
    transformed: dict[str, Any],
) -> None:
    pattern = re.compile(transformed["Parameters"]["ExistingCredentialsSecretArn"]["AllowedPattern"])
    assert pattern.match("") and pattern.match(
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:tuma/provider-AbC123"
    )
    for refused in ("tuma/provider", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:tuma/provider"):
        assert not pattern.match(refused), refused
    for role in ("OutboxSenderFunctionRole", "BalanceMonitorFunctionRole", "ReconcilerFunctionRole"):
        [decrypt] = [
            statement
            for policy in transformed["Resources"][role]["Properties"]["Policies"]
            if isinstance(policy, dict) and "Fn::If" in policy and policy["Fn::If"][0] == "HasCredentialsKey"
            for statement in policy["Fn::If"][1]["PolicyDocument"]["Statement"]
        ]
        assert decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == {
            "Ref": "ExistingCredentialsKmsKeyArn"
        }
        assert "kms:ViaService" in decrypt["Condition"]["StringEquals"]


def test_a_nat_instance_that_boots_badly_or_stops_forwarding_is_replaced_or_alarmed(
    transformed: dict[str, Any],
) -> None:
    resources = transformed["Resources"]
    script = resources["NatLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"][
        "Fn::Sub"
    ]
    assert "trap 'aws autoscaling set-instance-health" in script and "--health-status Unhealthy" in script
    for check in (
        "sysctl -n net.ipv4.ip_forward",
        "MASQUERADE",
        "describe-route-tables",
        "checkip.amazonaws.com",
    ):
        assert check in script.split("tuma-nat-check <<CHECK", 1)[1].split("CHECK\n", 1)[0], check
    assert "systemctl enable --now tuma-nat-check.timer" in script
    alarm = resources["NatNotForwardingAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["TreatMissingData"]) == (
        "Tuma/Nat",
        "NatForwarding",
        "breaching",
    )
    sids = {s["Sid"]: s for s in _statements_of(transformed, "NatInstanceRole")}
    assert sids["SayItForwards"]["Condition"]["StringEquals"]["cloudwatch:namespace"] == "Tuma/Nat"
    assert "autoScalingGroupName/${AWS::StackName}-nat" in sids["GiveUpOnABadBoot"]["Resource"]["Fn::Sub"]
    assert resources["NatAutoScalingGroup"]["Properties"]["AutoScalingGroupName"] == {
        "Fn::Sub": "${AWS::StackName}-nat"
    }


def test_a_deploy_that_changes_the_nat_instance_starts_the_new_one_before_stopping_the_old(
    transformed: dict[str, Any],
) -> None:
    """How long no SMS can leave while a deploy replaces the NAT instance (a new image, a new type).

    Before: MinInstancesInService 0, MaxSize 1: CloudFormation terminated the old instance, then
    launched the new one, which forwards only once booted, iptables installed and the route taken:
    about two minutes without egress (sends failed and were retried from the queue).
    After: MinInstancesInService 1 with MaxSize 2 makes CloudFormation launch the new instance beside
    the old; WaitOnResourceSignals holds the old one until the new one signals, and it signals only
    after it took the Elastic IP and the private route. No SMS can leave only between those two calls
    (seconds); a send caught in flight through the old instance fails and is retried like any timeout.
    """
    resources = transformed["Resources"]
    group = resources["NatAutoScalingGroup"]
    rolling = group["UpdatePolicy"]["AutoScalingRollingUpdate"]
    desired, most = int(group["Properties"]["DesiredCapacity"]), int(group["Properties"]["MaxSize"])
    assert rolling["MinInstancesInService"] == desired < most  # room to launch before terminating
    assert rolling["MaxBatchSize"] == 1 and rolling["WaitOnResourceSignals"] is True
    assert group["CreationPolicy"]["ResourceSignal"]["Count"] == 1

    script = resources["NatLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"][
        "Fn::Sub"
    ]
    took_address = script.index("aws ec2 associate-address")
    took_route = script.index("aws ec2 replace-route")
    signalled = script.index("aws cloudformation signal-resource")
    assert took_address < signalled and took_route < signalled
    assert "--logical-resource-id NatAutoScalingGroup" in script[signalled:]
    # A replacement after a failure has nobody waiting for its signal; that must not mark it unhealthy.
    assert "--status SUCCESS || true" in script[signalled:]
    sids = {s["Sid"]: s for s in _statements_of(transformed, "NatInstanceRole")}
    assert sids["TellTheDeployItTookOver"]["Action"] == "cloudformation:SignalResource"
    assert sids["TellTheDeployItTookOver"]["Resource"]["Fn::Sub"].endswith(":stack/${AWS::StackName}/*")
    # While both run the old one reports 0 (the route is no longer its own): one forwarding is enough.
    assert resources["NatNotForwardingAlarm"]["Properties"]["Statistic"] == "Maximum"


# SAM attaches these to functions with event sources; they grant on every queue or stream of the
# account because the poller, not the function, calls with them, and SAM offers no narrower form.
# Kept on purpose; everything else a function may do is an inline statement held to the code by
# tests/e2e/test_permissions.py.
SAM_MANAGED = {
    "AWSLambdaBasicExecutionRole": "CloudWatch Logs for the function's own log group",
    "AWSXrayWriteOnlyAccess": "Tracing: Active",
    "AWSLambdaVPCAccessExecutionRole": "network interfaces of the functions in the private subnets",
    "AWSLambdaDynamoDBExecutionRole": "the stream poller of the payments table and the ledger",
    "AWSLambdaSQSQueueExecutionRole": "the SQS pollers",
}


def test_the_narrow_grants_are_narrow_and_the_broad_ones_are_known(transformed: dict[str, Any]) -> None:
    for role in ("WebhooksFunctionRole", "PaymentStreamFunctionRole", "DarajaPullFunctionRole"):
        customers = [
            s for s in _statements_of(transformed, role) if "CustomersTable" in json.dumps(s.get("Resource"))
        ]
        assert customers and all(s["Action"] == "dynamodb:GetItem" for s in customers), role
    state = [
        s for s in _statements_of(transformed, "BalanceMonitorFunctionRole") if "StateTable" in json.dumps(s)
    ]
    assert [s["Action"] for s in state] == ["dynamodb:UpdateItem"]
    [policy] = [
        p
        for p in _resources(transformed, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": "BalanceMonitorDeadLetterQueue"}]
    ]
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    sources = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert {"Fn::GetAtt": ["BalanceMonitorFunctionHourly", "Arn"]} in sources
    rules = set(_resources(transformed, "AWS::Events::Rule"))
    named = {json.dumps(s) for s in sources}
    for rule in rules:
        assert any(rule in text for text in named), f"{rule} may not dead-letter into the queue"
    for name, role_spec in _resources(transformed, "AWS::IAM::Role").items():
        for arn in role_spec["Properties"].get("ManagedPolicyArns", []):
            policy_name = json.dumps(arn).rsplit("/", 1)[-1].strip('"}')
            if name.endswith("FunctionRole"):
                assert policy_name in SAM_MANAGED, (name, policy_name)


def _metric_filters(template: dict[str, Any]) -> set[str]:
    """Metrics the stack's log filters make (not the code's): the same whatever Observability says."""
    return {
        transformation["MetricName"]
        for spec in template["Resources"].values()
        if spec["Type"] == "AWS::Logs::MetricFilter"
        for transformation in spec["Properties"]["MetricTransformations"]
    }


def test_a_lean_stack_keeps_the_alarms_that_protect_receipts_and_emits_only_what_they_read(
    template: dict[str, Any],
) -> None:
    from tuma.runtime.observability import ESSENTIAL_METRICS

    from tuma_cli.local.template import Resolver, evaluate_conditions, parameters_with_defaults

    for mode in ("CreateVpcNatInstance", "CreateVpc"):
        parameters = parameters_with_defaults(
            template,
            {
                "Observability": "lean",
                "NetworkMode": mode,
                "Daraja": "Enabled",
                "StatusCallbackUrl": "https://x",
            },
        )
        conditions = evaluate_conditions(template, Resolver(parameters))
        kept = {
            name: spec
            for name, spec in template["Resources"].items()
            if spec["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard")
            and ("Condition" not in spec or conditions[spec["Condition"]])
        }
        assert "Dashboard" not in kept and "FunctionErrorsAlarm" not in kept
        protecting = {
            "OutboxDeadLettersAlarm",
            "PaymentStreamFailuresAlarm",
            "StatusEventsDeadLettersAlarm",
            "LowCreditAlarm",
            "DeliveryFailureRateAlarm",
            "PaymentsRejectedAlarm",
            "PaymentsRecoveredByPullAlarm",
            "DarajaPullFailingAlarm",
            "ForgedCallbacksAlarm",
        }
        assert protecting <= set(kept)
        if mode == "CreateVpcNatInstance":
            assert {"NatInstanceUnhealthyAlarm", "NatNotForwardingAlarm"} <= set(kept)
        for name, alarm in kept.items():
            props = alarm["Properties"]
            metrics = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
            metrics += [props] if "MetricName" in props else []
            for metric in metrics:
                if metric["Namespace"] == "Tuma":
                    emitted = ESSENTIAL_METRICS | _metric_filters(template)
                    assert metric["MetricName"] in emitted, (name, metric["MetricName"])
    # The switch reaches every function.
    assert template["Globals"]["Function"]["Environment"]["Variables"]["METRICS"] == {
        "Fn::If": ["FullObservability", "full", "lean"]
    }


def test_the_guards_are_on_out_of_the_box_and_the_code_defaults_are_the_templates(
    template: dict[str, Any],
) -> None:
    """A runaway or an attacker is stopped by the defaults, not by a setting someone had to know."""
    from tuma.runtime.settings.outbox_sender import SenderSettings

    parameters = template["Parameters"]
    daily, receipts = parameters["DailyPartsCap"]["Default"], parameters["ReceiptDailyPartsCap"]["Default"]
    assert 0 < daily < receipts  # receipts keep their own, higher cap: a promotion never starves them
    fields = SenderSettings.model_fields
    assert fields["DAILY_PARTS_CAP"].default == daily
    assert fields["RECEIPT_DAILY_PARTS_CAP"].default == receipts
    assert fields["MONTHLY_PARTS_CAP"].default == parameters["MonthlyPartsCap"]["Default"] == 0
    # Each receipt answers a real payment: forty in an hour to one parent all go; a loop does not.
    assert fields["RECIPIENT_HOURLY_LIMIT_RECEIPTS"].default >= 100
    assert parameters["BusinessShortCodes"]["Default"] == ""


def test_every_function_has_its_log_group_with_the_retention_parameter(template: dict[str, Any]) -> None:
    """A function without a declared log group gets one from Lambda that never expires."""
    groups = {
        json.dumps(spec["Properties"].get("LogGroupName")): spec
        for spec in template["Resources"].values()
        if spec["Type"] == "AWS::Logs::LogGroup"
    }
    for name, spec in template["Resources"].items():
        if spec["Type"] != "AWS::Serverless::Function":
            continue
        group = groups.get(json.dumps({"Fn::Sub": f"/aws/lambda/${{{name}}}"}))
        assert group is not None, f"{name} has no declared log group"
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert group.get("Condition") == spec.get("Condition"), name


def test_the_regions_api_gateway_logging_role_is_left_alone_by_default(transformed: dict[str, Any]) -> None:
    """ApiGatewayLoggingRole=IfMissing: never overwrite another team's role; never leave it dangling."""
    resources = transformed["Resources"]
    assert transformed["Parameters"]["ApiGatewayLoggingRole"]["Default"] == "IfMissing"
    # The resource that always overwrites exists only when asked for by name.
    assert resources["ApiGatewayAccount"]["Condition"] == "CreateApiGatewayLoggingRole"
    assert transformed["Conditions"]["CreateApiGatewayLoggingRole"] == {
        "Fn::Equals": [{"Ref": "ApiGatewayLoggingRole"}, "Create"]
    }
    custom = resources["ApiGatewayLoggingRoleIfMissing"]
    assert custom["Condition"] == "SetApiGatewayLoggingRoleIfMissing"
    assert custom["Properties"]["RoleArn"] == {"Fn::GetAtt": ["ApiGatewayLoggingRoleResource", "Arn"]}
    role = resources["ApiGatewayLoggingRoleResource"]
    assert role["DeletionPolicy"] == role["UpdateReplacePolicy"] == "Retain"
    statements = _statements_of(transformed, "ApiGatewayLoggingRoleSetterRole")
    assert {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    } == {
        "apigateway:GET",
        "apigateway:PATCH",
        "iam:PassRole",
    }
    assert statements[0]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/account"
    }
    # The stage waits for the setting (its variable names the custom resource).
    stages = _resources(transformed, "AWS::ApiGateway::Stage")
    [stage] = stages.values()
    assert "ApiGatewayLoggingRoleIfMissing" in json.dumps(stage["Properties"]["Variables"])


def _alarm_series(alarm: dict[str, Any], receipts_by_utc_hour: dict[int, int], hours: str) -> list[float]:
    """The alarm's metric math, evaluated hour by hour over one UTC day as CloudWatch would."""
    queries = {q["Id"]: q for q in alarm["Properties"]["Metrics"]}
    start, end = hours.split("-")
    silent = queries["silent"]["Expression"]["Fn::Sub"][0].replace("${From}", start).replace("${To}", end)
    assert queries["counted"]["Expression"] == "FILL(receipts, 0)"

    def evaluate(expression: str, hour: int, values: dict[str, float]) -> float:
        python = expression.replace(" AND ", " and ").replace("HOUR(counted)", str(hour))
        return float(eval(python, {"IF": lambda c, a, b: a if c else b}, values))  # noqa: S307 - our template

    series = []
    for hour in range(24):
        values: dict[str, float] = {"counted": receipts_by_utc_hour.get(hour, 0)}
        values["eat"] = evaluate(queries["eat"]["Expression"], hour, values)
        series.append(evaluate(silent, hour, values))
    return series


def _alarms_after(series: list[float], hours: int) -> bool:
    return any(all(v < 1 for v in series[i : i + hours]) for i in range(len(series) - hours + 1))


def test_the_silence_alarm_hears_missing_payments_in_payment_hours_and_not_at_night(
    template: dict[str, Any],
) -> None:
    alarm = template["Resources"]["PaymentsSilentAlarm"]
    assert alarm["Condition"] == "HasSilenceAlarm"
    assert template["Parameters"]["SilenceAlarmHours"]["Default"] == 0  # off until a business says when
    props = alarm["Properties"]
    assert props["EvaluationPeriods"] == props["DatapointsToAlarm"] == {"Ref": "SilenceAlarmHours"}
    assert (props["Threshold"], props["ComparisonOperator"]) == (1, "LessThanThreshold")
    [metric] = [q["MetricStat"] for q in props["Metrics"] if "MetricStat" in q]
    assert metric["Metric"]["MetricName"] == "ReceiptsQueued" and metric["Period"] == 3600
    from tuma.runtime.observability import ESSENTIAL_METRICS
    from tuma.services.intake import Fate

    assert Fate.QUEUED.value == "ReceiptsQueued" in ESSENTIAL_METRICS  # emitted in a lean stack too

    # A shop paid every hour from 08:00 to 18:00 East Africa Time (05:00 to 15:00 UTC), none at night.
    normal_day = dict.fromkeys(range(5, 15), 4)
    assert not _alarms_after(_alarm_series(alarm, normal_day, "8-18"), 3)
    # M-Pesa stops calling at 11:00 EAT (08:00 UTC): three silent payment hours, the alarm.
    broken = {utc: n for utc, n in normal_day.items() if utc < 8}
    assert _alarms_after(_alarm_series(alarm, broken, "8-18"), 3)
    assert not _alarms_after(_alarm_series(alarm, broken, "8-10"), 3)  # outside its hours: quiet
    # A quiet lunch hour is not an outage.
    lunch = {utc: n for utc, n in normal_day.items() if utc != 10}
    assert not _alarms_after(_alarm_series(alarm, lunch, "8-18"), 3)


def test_neither_the_apis_trace_nor_its_access_log_carries_a_path_token(template: dict[str, Any]) -> None:
    """Daraja's and the provider's callbacks carry their token in the path (issue 31): API Gateway's
    trace segment records the whole URL, so the stage is not traced; its access log records the
    route's template, with `{token}` in place of the token."""
    api = template["Resources"]["WebhooksApi"]["Properties"]
    assert api["TracingEnabled"] is False
    fields = api["AccessLogSetting"]["Format"]
    assert "$context.resourcePath" in fields
    for carrying in ("$context.path", "$context.requestOverride", "$context.domainName$context.path"):
        assert carrying not in fields.replace("$context.resourcePath", ""), carrying


def test_the_sender_reads_templates_by_kind_and_wishes_by_batch_and_can_scan_neither(
    transformed: dict[str, Any],
) -> None:
    """Issue 31: the sender reads the whole suppression list or every template only if it may Scan."""
    actions: dict[str, set[str]] = {}
    for statement in _statements_of(transformed, "OutboxSenderFunctionRole"):
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        granted = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for resource in resources:
            for table in ("TemplatesTable", "PrivacyTable"):
                if table in json.dumps(resource):
                    actions.setdefault(table, set()).update(granted)
    assert actions == {"TemplatesTable": {"dynamodb:Query"}, "PrivacyTable": {"dynamodb:BatchGetItem"}}


def _ledger_grants(transformed: dict[str, Any]) -> dict[str, tuple[set[str], set[str]]]:
    """Each role's DynamoDB actions on the ledger, and the ledger resources they name (table, indexes)."""
    grants: dict[str, tuple[set[str], set[str]]] = {}
    for role, statement in _statements(transformed):
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        on_ledger = {json.dumps(r) for r in resources if "LedgerTable" in json.dumps(r)}
        if on_ledger:
            granted, named = grants.setdefault(role, (set(), set()))
            granted.update(a for a in actions if a.startswith("dynamodb:"))
            named.update(on_ledger)
    return grants


def test_the_internet_facing_function_may_neither_scan_nor_query_the_ledger(
    template: dict[str, Any], transformed: dict[str, Any]
) -> None:
    """Issue 31: the webhooks function reads the ledger by key only, on the table and no index; and a
    function falls back to a Query for messages from before 0.3.0 only where its role allows one."""
    import importlib

    grants = _ledger_grants(transformed)
    actions, resources = grants["WebhooksFunctionRole"]
    assert not {"dynamodb:Query", "dynamodb:Scan", "dynamodb:*"} & actions
    assert all("/index/" not in r for r in resources), resources
    assert actions == {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    }
    checked = set()
    for logical_id, spec in template["Resources"].items():
        if spec["Type"] != "AWS::Serverless::Function":
            continue
        name = spec["Properties"]["CodeUri"].strip("/").split("/")[-1]
        model = getattr(importlib.import_module(f"tuma.runtime.settings.{name}"), SETTINGS_MODELS[name])
        if "LEDGER_TABLE" in model.model_fields:
            queries = "dynamodb:Query" in grants.get(f"{logical_id}Role", (set(), set()))[0]
            assert model.LEDGER_QUERIES is queries, f"{logical_id}: LEDGER_QUERIES is {model.LEDGER_QUERIES}"
            checked.add(logical_id)
    assert {"WebhooksFunction", "ReconcilerFunction", "DarajaPullFunction", "OutboxSenderFunction"} <= checked
