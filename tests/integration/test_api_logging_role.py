"""ApiGatewayLoggingRole=IfMissing: the region's API Gateway logging role is set only where none is.

The custom resource's code is the template's own inline ZipFile, run here against moto's API Gateway,
answering CloudFormation's pre-signed URL (a loopback server standing in for it).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import ModuleType
from typing import Any, ClassVar

import boto3
import pytest
from moto import mock_aws

from tests.conftest import ROOT
from tuma_cli.local.template import load

pytestmark = pytest.mark.integration
OURS = "arn:aws:iam::123456789012:role/tuma-ApiGatewayLoggingRoleResource-1"
THEIRS = "arn:aws:iam::123456789012:role/another-teams-apigateway-logs"


class _CloudFormation(BaseHTTPRequestHandler):
    answers: ClassVar[list[dict[str, Any]]] = []

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        self.answers.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def cloudformation() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _CloudFormation.answers = []
    server = HTTPServer(("127.0.0.1", 0), _CloudFormation)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/response", _CloudFormation.answers
    server.shutdown()


@pytest.fixture
def setter(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    code = load(ROOT / "template.yaml")["Resources"]["ApiGatewayLoggingRoleSetter"]["Properties"]["Code"]
    module = ModuleType("index")
    with mock_aws():
        exec(compile(code["ZipFile"], "index.py", "exec"), module.__dict__)  # noqa: S102 - the template's code
        yield module


def _event(kind: str, url: str, role: str) -> dict[str, Any]:
    return {
        "RequestType": kind,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/tuma/1",
        "RequestId": f"request-{kind}",
        "LogicalResourceId": "ApiGatewayLoggingRoleIfMissing",
        "ResourceProperties": {"RoleArn": role},
        **({} if kind == "Create" else {"PhysicalResourceId": "set"}),
    }


def test_a_region_without_a_logging_role_gets_the_stacks_and_one_with_a_role_keeps_it(
    setter: ModuleType, cloudformation: tuple[str, list[dict[str, Any]]]
) -> None:
    url, answers = cloudformation
    apigateway = boto3.client("apigateway")
    assert not apigateway.get_account().get("cloudwatchRoleArn")

    setter.handler(_event("Create", url, OURS), None)
    assert apigateway.get_account()["cloudwatchRoleArn"] == OURS
    assert (answers[-1]["Status"], answers[-1]["PhysicalResourceId"]) == ("SUCCESS", "set")
    assert answers[-1]["RequestId"] == "request-Create"

    # Another team's role, set since: an update of this stack leaves it alone, and so does a delete.
    apigateway.update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": THEIRS}]
    )
    setter.handler(_event("Update", url, OURS), None)
    assert apigateway.get_account()["cloudwatchRoleArn"] == THEIRS
    assert (answers[-1]["Status"], answers[-1]["PhysicalResourceId"]) == ("SUCCESS", "kept")
    setter.handler(_event("Delete", url, OURS), None)
    assert apigateway.get_account()["cloudwatchRoleArn"] == THEIRS
    assert answers[-1]["Status"] == "SUCCESS"


def test_a_failure_is_reported_to_cloudformation_instead_of_leaving_it_waiting(
    setter: ModuleType, cloudformation: tuple[str, list[dict[str, Any]]]
) -> None:
    url, answers = cloudformation
    event = _event("Create", url, OURS)
    del event["ResourceProperties"]["RoleArn"]
    setter.handler(event, None)
    assert answers[-1]["Status"] == "FAILED" and "RoleArn" in answers[-1]["Reason"]
