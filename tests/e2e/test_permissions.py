"""Every AWS call a function makes is granted by that function's role, as CloudFormation will create it.

moto grants everything, so a missing permission is found only in a real account. Here the local
topology runs every function through a workload that reaches every adapter (the demo, Daraja, status
events, lookups, scheduling), recording each AWS call with the resources it names
(`tuma local up --record-aws-calls`); each call is then judged against the function's role in the
SAM-transformed template, statement by statement, as IAM would. A new adapter call without its
grant fails here; one that no workload reaches fails the completeness check below.
"""

from __future__ import annotations

import ast
import fnmatch
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import sam_transform
from tuma_cli.api_signing import ApiKeyCredentials, signed_request
from tuma_cli.local.template import ACCOUNT, REGION, Resolver, evaluate_conditions, parameters_with_defaults

pytestmark = pytest.mark.e2e
PREFIX = "tuma-local-"
# Calls no function makes in a deployed stack, and why.
NOT_MADE_BY_FUNCTIONS = {
    # The template editors (tuma templates, the console), with the operator's own credentials.
    ("dynamodb_templates.py", "put_item"),
    ("dynamodb_templates.py", "transact_write_items"),
    # Only for a queue missing from the sender's configuration, which names both lanes; best effort.
    ("sqs_visibility.py", "get_queue_url"),
    # The whole suppression list: `tuma suppress list`, the console's People page.
    ("dynamodb_privacy.py", "scan"),
    # One person's data (tuma privacy export|erase|log), an operator's occasional request.
    ("dynamodb_personal.py", "scan"),
}


class _Receiver(BaseHTTPRequestHandler):
    """The business's StatusCallbackUrl: keeps what it was sent, to verify as the business would."""

    received = 0
    events: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    secret: ClassVar[list[str]] = []  # the StatusWebhookSecret's token, once the topology is up

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).events.append((dict(self.headers.items()), body))
        type(self).received += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/status"
    server.shutdown()


PARAMETERS = {
    "AlertRecipients": "0722 000 111",
    "CustomerLookup": "Enabled",
    "DeliveryCheckAfterSeconds": "1",
    "PromotionalWindow": "00:00-24:00",
}


def _key(topology: Any) -> ApiKeyCredentials:
    return ApiKeyCredentials(topology.api_key["id"], topology.api_key["secret"])


def _signed(topology: Any, method: str, path: str) -> httpx.Response:
    with httpx.Client(timeout=30) as http:
        return signed_request(http, _key(topology), method, topology.front.url + "/v1" + path)


def _post_signed(topology: Any, path: str, body: dict[str, Any]) -> httpx.Response:
    with httpx.Client(timeout=30) as http:
        return signed_request(
            http, _key(topology), "POST", topology.front.url + "/v1" + path, json.dumps(body).encode()
        )


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory, receiver: str) -> list[dict[str, Any]]:
    from tuma_cli.local.demo import run_daraja_demo, run_demo
    from tuma_cli.local.runner import running

    path = tmp_path_factory.mktemp("calls") / "aws-calls.jsonl"
    parameters = PARAMETERS | {"StatusCallbackUrl": receiver}
    with running(
        ROOT,
        0,
        dlr_delay=0.3,
        parameters=parameters,
        schedule_period=2.0,
        daraja=True,
        secondary_provider=True,
        record_aws_calls=path,
    ) as topology:
        out = io.StringIO()
        assert run_demo(topology, 60, out) == 0, out.getvalue()
        assert run_daraja_demo(topology, 60, out) == 0, out.getvalue()
        # A scheduled receipt: the agenda, then the reconciler's release.
        later = {
            "reference": "SCHED-1",
            "amount": "10",
            "phone": "0712345678",
            "send_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 20 * 86400)),
        }
        assert _post_signed(topology, "/payments", later).status_code == 202
        soon = {
            "reference": "SCHED-2",
            "amount": "10",
            "phone": "0712345678",
            "send_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 6)),
        }
        assert _post_signed(topology, "/payments", soon).status_code == 202
        assert _signed(topology, "GET", "/messages/LGR219G3EY").status_code == 200
        # Both providers failing for a while: the sender postpones the message (SQS visibility). The
        # faults take the next requests whatever they are (the reconciler's polls too, every 2 s
        # here): enough of them that the send meets some on a busy machine.
        for simulator in (topology.sandbox, topology.secondary):
            assert simulator is not None
            httpx.post(
                f"{simulator.url}/_sandbox/faults", json={"count": 12, "kinds": ["5xx"]}
            ).raise_for_status()
        from tuma_cli.local.provision import client

        assert topology.topology is not None
        client("sqs", topology.endpoint).send_message(
            QueueUrl=topology.topology.resources["FastOutboxQueue"]["QueueUrl"],
            MessageBody=json.dumps({"idempotency_key": "RETRY-1", "to": ["0712345678"], "text": "retry me"}),
        )
        assert _signed(topology, "DELETE", "/messages/SCHED-1").status_code in (200, 404)
        deadline = time.monotonic() + 60
        while (_Receiver.received < 5 or not _delivered(topology, "SCHED-2")) and time.monotonic() < deadline:
            time.sleep(0.5)
        _people(topology)
        time.sleep(3)  # one more round of every schedule
        secret = client("secretsmanager", topology.endpoint).get_secret_value(
            SecretId=topology.topology.ref("StatusWebhookSecret")
        )
        _Receiver.secret.append(json.loads(secret["SecretString"])["token"])
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_status_events_verify_with_the_standard_webhooks_library(calls: list[dict[str, Any]]) -> None:
    from standardwebhooks.webhooks import Webhook

    [secret] = _Receiver.secret
    assert len(_Receiver.events) >= 5
    for headers, body in _Receiver.events:
        event = Webhook(secret).verify(body, headers)
        assert headers["webhook-id"] == event["event_id"] and "0712345678" not in body.decode()


def _people(topology: Any) -> None:
    """The suppression list and consents: the signed routes, a promotion's screen, and a number the
    network reports blacklisted, once by callback (webhooks) and once by polling (the reconciler)."""
    from tuma_cli.local.provision import client

    for path, body in (
        ("/suppressions", {"number": "0712000999", "scope": "all"}),
        ("/consents", {"number": "0712000999", "source": "test", "wording": "Offers"}),
        ("/suppressions/remove", {"number": "0712000999"}),
        ("/consents/withdraw", {"number": "0712000999"}),
        ("/consents", {"number": "0712000881", "source": "test", "wording": "Offers"}),
        ("/consents", {"number": "0712000882", "source": "test", "wording": "Offers"}),
    ):
        assert _post_signed(topology, path, body).status_code in (200, 201), path
    simulator = topology.sandbox.url
    httpx.post(
        f"{simulator}/_sandbox/config", json={"opted_out": ["0712000881", "0712000882"]}
    ).raise_for_status()
    queue = topology.topology.resources["FastOutboxQueue"]["QueueUrl"]
    callback = httpx.get(f"{simulator}/_sandbox/config").json()["callback_url"]
    for number, callbacks in (("0712000881", True), ("0712000882", False)):
        if not callbacks:  # learnt by polling only
            httpx.post(f"{simulator}/_sandbox/config", json={"callback_url": None}).raise_for_status()
        key = f"PROMO-{number}"
        message = {"idempotency_key": key, "to": [number], "text": "Sale", "category": "promotional"}
        client("sqs", topology.endpoint).send_message(QueueUrl=queue, MessageBody=json.dumps(message))
        deadline = time.monotonic() + 30
        while not _failed(topology, key) and time.monotonic() < deadline:
            time.sleep(0.5)
    httpx.post(f"{simulator}/_sandbox/config", json={"callback_url": callback}).raise_for_status()


def _failed(topology: Any, key: str) -> bool:
    from tuma.adapters.dynamodb_ledger import DynamoDBLedger

    from tuma_cli.local.provision import client

    ledger = DynamoDBLedger(client("dynamodb", topology.endpoint), topology.topology.ref("LedgerTable"))
    return any(e.status.value == "FAILED" for e in ledger.get(key))


def _delivered(topology: Any, key: str) -> bool:
    from tuma.adapters.dynamodb_ledger import DynamoDBLedger

    from tuma_cli.local.provision import client

    ledger = DynamoDBLedger(client("dynamodb", topology.endpoint), topology.topology.ref("LedgerTable"))
    return any(e.status.value in ("DELIVERED", "SENT") for e in ledger.get(key))


# -- IAM, as far as these roles need it ------------------------------------------------------------------


def _logical(name: str) -> str:
    return name.removeprefix(PREFIX).split(".fifo")[0]


def _arn(service: str, logical: str) -> str:
    return {
        "dynamodb": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{{{logical}}}",
        "sqs": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{{{logical}}}",
        "secretsmanager": f"{{{logical}}}",
    }[service]


SQS_BATCHES = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
TRANSACT = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def requests_of(call: dict[str, Any]) -> list[tuple[str, str]]:
    """What IAM is asked for one call: (action, resource) pairs."""
    service, operation, params = call["service"], call["operation"], call["params"]
    if service == "dynamodb":
        if "Transact" in params:
            return [
                (f"dynamodb:{TRANSACT[kind]}", _arn(service, _logical(table)))
                for kind, table in params["Transact"]
            ]
        tables = params.get("Tables") or [params["TableName"]]
        found = []
        for table in tables:
            resource = _arn(service, _logical(table))
            if params.get("IndexName"):
                resource += f"/index/{params['IndexName']}"
            found.append((f"dynamodb:{operation}", resource))
        return found
    if service == "sqs":
        queue = params.get("QueueUrl", "").rsplit("/", 1)[-1] or params.get("QueueName", "")
        return [(f"sqs:{SQS_BATCHES.get(operation, operation)}", _arn(service, _logical(queue)))]
    if service == "secretsmanager":
        secret = params["SecretId"].split(":secret:", 1)[-1].rsplit("-", 1)[0].removeprefix("tuma-local/")
        return [(f"secretsmanager:{operation}", _arn(service, secret))]
    # CloudWatch signs as "monitoring"; IAM calls its actions cloudwatch:*.
    return [(f"{ {'monitoring': 'cloudwatch'}.get(service, service) }:{operation}", "*")]


def _roles(transformed: dict[str, Any], values: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Each function role's statements, with conditions and intrinsics resolved symbolically."""
    resources = transformed["Resources"]
    resolver = Resolver(
        parameters_with_defaults(transformed, values), mappings=transformed.get("Mappings", {})
    )
    evaluate_conditions(transformed, resolver)
    for name, spec in resources.items():
        resolver.refs[name] = f"{{{name}}}"
        kind = spec["Type"]
        if kind == "AWS::DynamoDB::Table":
            arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{{{name}}}"
            resolver.attributes[(name, "Arn")] = arn
            resolver.attributes[(name, "StreamArn")] = f"{arn}/stream/*"
        elif kind == "AWS::SQS::Queue":
            resolver.attributes[(name, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{{{name}}}"
            resolver.attributes[(name, "QueueName")] = f"{{{name}}}"
        else:
            resolver.placeholders.add(name)
    roles: dict[str, list[dict[str, Any]]] = {}
    for name, spec in resources.items():
        if spec["Type"] != "AWS::IAM::Role" or not name.endswith("FunctionRole"):
            continue
        if "Condition" in spec and not resolver.conditions[spec["Condition"]]:
            continue
        statements = []
        for policy in resolver.resolve(spec["Properties"].get("Policies", [])):
            found = policy["PolicyDocument"]["Statement"]
            statements += found if isinstance(found, list) else [found]
        roles[name.removesuffix("Role")] = statements
    return roles


def _allowed(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        granted = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions) and any(
            fnmatch.fnmatchcase(resource, r) for r in granted
        ):
            return True
    return False


def test_every_aws_call_of_every_function_is_granted_by_its_role(
    calls: list[dict[str, Any]], receiver: str
) -> None:
    transformed = sam_transform()
    values = PARAMETERS | {
        "StatusCallbackUrl": receiver,
        "Daraja": "Enabled",
        "SecondaryProviderBaseUrl": "https://secondary.example",
    }
    roles = _roles(transformed, values)
    from tuma_cli.local.template import load

    by_directory = {
        spec["Properties"]["CodeUri"].strip("/").split("/")[-1]: name
        for name, spec in load(ROOT / "template.yaml")["Resources"].items()
        if spec["Type"] == "AWS::Serverless::Function"
    }
    functions = {call["function"] for call in calls}
    assert functions == set(by_directory), f"not every function ran: {sorted(set(by_directory) - functions)}"
    denied = set()
    for call in calls:
        statements = roles[by_directory[call["function"]]]
        for action, resource in requests_of(call):
            if not _allowed(statements, action, resource):
                denied.add((call["function"], action, resource))
    assert not denied, "denied in a real account:\n" + "\n".join(map(str, sorted(denied)))
    print(f"\n{len(calls)} AWS calls by {len(functions)} functions, each granted by its role")


def _boto_operations(path: Path) -> set[str]:
    """Client methods called in a module: `<something client>.<snake_case_operation>(`."""
    import botocore.session
    from botocore import xform_name

    session = botocore.session.get_session()
    operations = {
        xform_name(name)
        for service in ("dynamodb", "sqs", "secretsmanager")
        for name in session.get_service_model(service).operation_names
    }
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in operations
        ):
            receiver = ast.unparse(node.func.value)
            if "client" in receiver or "sqs" in receiver:
                found.add(node.func.attr)
    return found


def test_each_function_that_reads_or_writes_the_privacy_table_is_held_to_its_role_there(
    calls: list[dict[str, Any]],
) -> None:
    touched = {(c["function"], c["operation"]) for c in calls if "PrivacyTable" in json.dumps(c["params"])}
    assert {
        ("outbox_sender", "BatchGetItem"),  # the screen before every send
        ("webhooks", "UpdateItem"),  # the signed routes, a blacklisted report by callback
        ("webhooks", "DeleteItem"),  # a number left with nothing
        ("reconciler", "UpdateItem"),  # a blacklisted report learnt by polling
    } <= touched, touched


def test_the_workload_reaches_every_aws_call_the_functions_code_can_make(calls: list[dict[str, Any]]) -> None:
    from botocore import xform_name

    made = {xform_name(call["operation"]) for call in calls}
    modules = [*(ROOT / "layers" / "tuma" / "tuma").rglob("*.py"), *(ROOT / "functions").rglob("app.py")]
    unreached = {
        (path.name, operation)
        for path in modules
        for operation in _boto_operations(path)
        if operation not in made and (path.name, operation) not in NOT_MADE_BY_FUNCTIONS
    }
    assert not unreached, f"no workload makes these calls, so their grants are unchecked: {sorted(unreached)}"


TABLE_ARN = rf"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{{(\w+)}}(/index/.*)?"


def _tables_granted(statements: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(table, action) for each DynamoDB action a role allows on a table or its indexes."""
    granted = set()
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        for resource in map(str, _as_list(statement["Resource"])):
            table = re.fullmatch(TABLE_ARN, resource)
            if table:
                granted |= {(table[1], a) for a in _as_list(statement["Action"]) if a.startswith("dynamodb:")}
    return granted


def test_every_dynamodb_grant_of_every_function_is_used_by_a_call_it_makes(
    calls: list[dict[str, Any]], receiver: str
) -> None:
    """The reverse of the grant check (issue 31): each DynamoDB action a function's role allows on a
    table is one the function was seen to call there, or is named below with the code that needs it
    on a path this workload does not take. No function may Scan a table it only needs by key, and
    the internet-facing one may not Scan the ledger at all."""
    from tuma_cli.local.template import load

    roles = _roles(sam_transform(), PARAMETERS | {"StatusCallbackUrl": receiver, "Daraja": "Enabled"})
    directories = {
        name: spec["Properties"]["CodeUri"].strip("/").split("/")[-1]
        for name, spec in load(ROOT / "template.yaml")["Resources"].items()
        if spec["Type"] == "AWS::Serverless::Function"
    }
    used = {
        (call["function"], named[1], action)
        for call in calls
        for action, resource in requests_of(call)
        if (named := re.fullmatch(TABLE_ARN, resource))
    }
    unused: dict[tuple[str, str, str], str | None] = {}
    for function, statements in sorted(roles.items()):
        for table, action in sorted(_tables_granted(statements)):
            if (directories[function], table, action) not in used:
                unused[(function, table, action)] = BEYOND_THE_WORKLOAD.get((function, table, action))
    unexplained = sorted(grant for grant, why in unused.items() if why is None)
    assert not unexplained, "granted, never called, and no reason given:\n" + "\n".join(map(str, unexplained))
    stale = sorted(set(BEYOND_THE_WORKLOAD) - set(unused))
    assert not stale, f"named below but called by the workload, or no longer granted: {stale}"
    assert ("LedgerTable", "dynamodb:Scan") not in _tables_granted(roles["WebhooksFunction"])
    functions = {v: k for k, v in directories.items()}
    outside = _outside_leading_keys(roles, functions, calls)
    assert not outside, f"calls outside their statement's dynamodb:LeadingKeys: {outside}"
    # The pull job reading a guard's document: what IAM would refuse, and this check finds.
    forged = {"TableName": f"{PREFIX}StateTable", "Leading": {f"{PREFIX}StateTable": ["guard#caps"]}}
    assert _outside_leading_keys(
        roles,
        functions,
        [{"function": "daraja_pull", "service": "dynamodb", "operation": "GetItem", "params": forged}],
    ) == [("daraja_pull", "dynamodb:GetItem", "guard#caps")]
    print(
        f"\n{len(used)} (function, table, action) used; {len(unused)} granted for paths beyond the workload"
    )


def _outside_leading_keys(
    roles: dict[str, list[dict[str, Any]]], functions: dict[str, str], calls: list[dict[str, Any]]
) -> list[tuple[str, str, str]]:
    """Calls whose partition keys the `dynamodb:LeadingKeys` condition of every statement allowing
    them does not admit: what IAM would refuse and moto lets through."""
    outside = set()
    for call in calls:
        action = f"dynamodb:{call['operation']}"
        for table, keys in (call["params"].get("Leading") or {}).items():
            patterns = _admitted(
                roles[functions[call["function"]]], action, _arn("dynamodb", _logical(table))
            )
            if patterns is not None:
                outside |= {(call["function"], action, k) for k in keys if not _matches(k, patterns)}
    return sorted(outside)


def _admitted(statements: list[dict[str, Any]], action: str, resource: str) -> list[str] | None:
    """The partition keys the statements allowing `action` admit; None when one of them admits any."""
    keyed = [_leading_patterns(s) for s in statements if _allowed([s], action, resource)]
    if not keyed or any(k is None for k in keyed):
        return None
    return [pattern for k in keyed for pattern in k or ()]


def _matches(key: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns)


def _leading_patterns(statement: dict[str, Any]) -> list[str] | None:
    condition = statement.get("Condition", {}).get("ForAllValues:StringLike", {})
    found = condition.get("dynamodb:LeadingKeys")
    return None if found is None else _as_list(found)


# DynamoDB grants for paths this workload does not take, each with the code that calls it.
BEYOND_THE_WORKLOAD: dict[tuple[str, str, str], str] = {
    ("WebhooksFunction", "LedgerTable", "dynamodb:BatchWriteItem"): "holding a large payment's receipt, "
    "and ending it REJECTED when M-Pesa says another amount (DynamoDBPaymentRecords.hold_receipt, "
    "Confirmations: ledger.write); the workload runs without ConfirmPaymentsFrom",
    ("DarajaPullFunction", "LedgerTable", "dynamodb:PutItem"): "a pulled payment whose receipt cannot go "
    "or is refused (Intake.record_unsendable, Intake.reject); the workload's payers all have numbers",
    ("DarajaPullFunction", "LedgerTable", "dynamodb:BatchWriteItem"): "a held receipt ended REJECTED when "
    "M-Pesa's record says another amount (Confirmations.confirm: ledger.write)",
    ("PaymentStreamFunction", "LedgerTable", "dynamodb:PutItem"): "a payments-table row whose receipt "
    "cannot go or is refused (Intake.record_unsendable, Intake.reject)",
    **{
        (function, "CustomersTable", "dynamodb:GetItem"): "the account's phone when M-Pesa masked the "
        "payer's number (DynamoDBCustomers.phone_for, knows); the workload's payers are not masked"
        for function in ("WebhooksFunction", "DarajaPullFunction", "PaymentStreamFunction")
    },
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
