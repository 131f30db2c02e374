"""template.yaml as CloudFormation will see it: transformed by samtranslator, then checked for what matters."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tuma_cli.local.template import load

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
    # samtranslator pins an older pydantic than the project, so it runs in the SAM CLI's own venv.
    python = Path(_sam()).parent / "python"
    result = subprocess.run(
        [
            str(python),
            str(ROOT / "scripts" / "sam_transform.py"),
            f"SafaricomCallbackIps={','.join(SAFARICOM_IPS)}",
        ],
        capture_output=True,
        text=True,
        env=_sam_env(),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _resources(transformed, kind):
    return {name: spec for name, spec in transformed["Resources"].items() if spec["Type"] == kind}


def _functions_calling_the_provider(template) -> set[str]:
    found = set()
    for name, spec in template["Resources"].items():
        if spec["Type"] == "AWS::Serverless::Function":
            code = (ROOT / spec["Properties"]["CodeUri"] / "app.py").read_text()
            if PROVIDER_WIRING.search(code):
                found.add(name)
    return found


def test_the_functions_of_design_md_exist(template):
    functions = {
        spec["Properties"]["CodeUri"].strip("/").split("/")[-1]
        for spec in template["Resources"].values()
        if spec["Type"] == "AWS::Serverless::Function"
    }
    assert functions == {
        "outbox_sender",
        "payment_stream",
        "webhooks",
        "balance_monitor",
        "reconciler",
        "status_events",
        "status_notifier",
        "daraja_pull",
    }
    for name in functions:
        assert (ROOT / "functions" / name / "app.py").is_file()


def test_provider_callers_are_in_the_private_subnets_behind_one_nat(template, transformed):
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


def _built(template, mode: str) -> set[str]:
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


def test_each_network_mode_builds_one_way_out(template):
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


def test_the_nat_instance_takes_the_fixed_address_and_the_route_and_recovers_by_itself(transformed):
    resources = transformed["Resources"]
    group = resources["NatAutoScalingGroup"]["Properties"]
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == ("1", "1", "1")
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


def test_every_asynchronous_source_has_a_failure_destination(transformed):
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


def test_every_function_runs_on_the_powertools_layer_then_tumas(transformed):
    functions = _resources(transformed, "AWS::Lambda::Function")
    assert len(functions) == 8
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


def test_the_outbox_queue_outlasts_the_sender_and_respects_the_provider(transformed):
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
    for mapping in mappings.values():
        assert mapping["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "ProviderMaxConcurrency"}
    # Bulk fills one sendbulk call per batch; the fast lane never waits for a window.
    assert mappings["OutboxQueue"]["BatchSize"] == 100
    assert mappings["FastOutboxQueue"]["BatchSize"] == 10
    assert "MaximumBatchingWindowInSeconds" not in mappings["FastOutboxQueue"]


def _unless(value):
    """The branch of a condition that grants something (the other is AWS::NoValue)."""
    return value["Fn::If"][1] if isinstance(value, dict) and "Fn::If" in value else value


def _statements(transformed):
    for role_name, role in _resources(transformed, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            statements = _unless(policy)["PolicyDocument"]["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                granted = _unless(statement)
                if isinstance(granted, dict) and "Effect" in granted:
                    yield role_name, granted


# Actions IAM only grants on "*" (they have no resource-level permissions).
STAR_ONLY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "cloudwatch:PutMetricData"}


def test_no_function_gets_star_on_a_resource_it_does_not_need(transformed):
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
    for role in _resources(transformed, "AWS::IAM::Role").values():
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            text = json.dumps(arn)
            assert "AdministratorAccess" not in text and "FullAccess" not in text


def test_webhook_routes_are_the_published_ones_and_safe_for_safaricom(template):
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


def test_every_webhook_route_takes_every_method_so_that_the_function_answers_405(transformed):
    [api] = _resources(transformed, "AWS::ApiGateway::RestApi").values()
    paths = api["Properties"]["Body"]["paths"]
    assert paths and all(list(methods) == ["x-amazon-apigateway-any-method"] for methods in paths.values())


def test_callback_routes_can_be_limited_to_safaricom(transformed):
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
    ]
    assert statement["Condition"]["NotIpAddress"]["aws:SourceIp"] == list(SAFARICOM_IPS)


def test_the_local_topology_creates_every_queue_table_and_secret_of_the_template(template, tmp_path):
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
        "outbox_sender",
        "payment_stream",
        "webhooks",
        "balance_monitor",
        "reconciler",
    }


def _sam() -> str:
    sam = os.environ.get("TUMA_SAM")
    if not sam or not Path(sam).exists():
        pytest.skip("TUMA_SAM is not set: `make test` installs the SAM CLI in .venv-sam and sets it")
    return sam


def _sam_env() -> dict[str, str]:
    python313 = next(iter(sorted(Path("/root/.pyenv/versions").glob("3.13.*/bin"))), None)
    path = f"{python313}:{os.environ['PATH']}" if python313 else os.environ["PATH"]
    return {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "eu-west-1", "PATH": path}


def _run_sam(*args: str) -> None:
    result = subprocess.run(
        [_sam(), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_sam_env(),
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_sam_validate_lint_passes():
    _run_sam("validate", "--lint")


def test_sam_build_produces_an_arm64_layer_with_the_package(tmp_path):
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


def test_every_resource_sam_generates_is_in_the_cost_model(transformed):
    from bench import cost

    types = {resource["Type"] for resource in transformed["Resources"].values()}
    unknown = types - set(cost.BILLED) - set(cost.FREE_TYPES)
    assert not unknown, f"add these to bench/cost.py's BILLED or FREE_TYPES: {sorted(unknown)}"
