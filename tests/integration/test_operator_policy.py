"""The stack's OperatorPolicy grants what customer care and finance do, and nothing a function needs.

The console's own code (the same calls `tuma trace|payments|cancel|pause|resume` make) runs every
operator action against a moto server, with each AWS call recorded as tuma local up records a
function's; each call is then judged against OperatorPolicy as template.yaml declares it, as IAM
would (tests/e2e/test_permissions.py's judge). moto grants everything: a missing grant is found here,
not by an operator's first "AccessDenied" on a busy day.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from tuma.formatting.clock import EAT

from tests.conftest import ROOT
from tests.e2e.test_permissions import _allowed, requests_of
from tests.integration.conftest import Stack
from tests.integration.test_console_app import PHONE, _located, sent_and_scheduled
from tuma_cli.console.backend import Backend
from tuma_cli.local.template import (
    ACCOUNT,
    REGION,
    Resolver,
    evaluate_conditions,
    load,
    parameters_with_defaults,
)
from tuma_cli.local.worker import record_aws_calls

pytestmark = pytest.mark.integration
# What the operator does not do with this policy, and who does instead.
NOT_THE_OPERATORS = {
    "templates": "editing the business's wording (tuma templates, the console's Templates page): an administrator",
    "privacy": "a person's export or erasure, the suppression list: the data protection officer",
}


def _operator_statements() -> list[dict[str, Any]]:
    template = load(ROOT / "template.yaml")
    resolver = Resolver(parameters_with_defaults(template, {}), mappings=template.get("Mappings", {}))
    evaluate_conditions(template, resolver)
    for name, spec in template["Resources"].items():
        resolver.refs[name] = f"{{{name}}}"
        if spec["Type"] == "AWS::DynamoDB::Table":
            resolver.attributes[(name, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{{{name}}}"
        elif spec["Type"] == "AWS::SQS::Queue":
            resolver.attributes[(name, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{{{name}}}"
        else:
            resolver.placeholders.add(name)
    policy = resolver.resolve(template["Resources"]["OperatorPolicy"]["Properties"]["PolicyDocument"])
    statements: list[dict[str, Any]] = policy["Statement"]
    return statements


def test_every_call_of_every_operator_action_is_granted_by_the_operator_policy(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    backend = Backend(_located(stack))
    sent_and_scheduled(stack, backend, monkeypatch)
    dlq = stack.topology.resources["OutboxDeadLetterQueue"]["QueueUrl"]
    stack.client("sqs").send_message(QueueUrl=dlq, MessageBody=json.dumps({"idempotency_key": "lost"}))

    path = tmp_path / "operator-calls.jsonl"
    monkeypatch.setattr(BaseClient, "_make_api_call", BaseClient._make_api_call)  # type: ignore[attr-defined]
    record_aws_calls(str(path), "operator")
    today = datetime.now(UTC).astimezone(EAT).date()
    # The day, a search by receipt and by phone, a story, the finance view of the day.
    assert backend.page(today.isoformat(), None, None, None).entries
    assert backend.search("SFK1A2B3C4")[0] and backend.search(PHONE)[0]
    story = backend.story("SFK1A2B3C4")
    backend.payments(today.isoformat())
    # Resend (to a number typed), cancel a scheduled message, pause and resume, health, redrive.
    backend.resend("SFK1A2B3C4", story.entries[0].recipient_ref, "0722000111")
    assert backend.cancel("fees-friday").value
    switches = backend.switches()
    switches.pause(None)
    switches.resume(None)
    assert backend.guards() is not None
    backend.health()
    assert backend.redrive() == (1, False)  # moto has no message move task: one by one

    calls = [json.loads(line) for line in path.read_text().splitlines()]
    assert calls, "nothing recorded"
    statements = _operator_statements()
    refused = sorted(
        {
            (action, resource)
            for call in calls
            for action, resource in requests_of(call)
            if not _allowed(statements, action, resource)
        }
    )
    assert not refused, f"OperatorPolicy lacks: {refused}"


def test_the_operator_policy_reads_no_secret_but_the_privacy_key_and_writes_no_function_state() -> None:
    statements = _operator_statements()
    granted = {
        (action, resource)
        for s in statements
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        for resource in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    }
    secrets = {resource for action, resource in granted if action.startswith("secretsmanager:")}
    assert secrets == {"{PrivacySecret}"}  # to find a person by number, never the provider's or Daraja's
    for table in ("IdempotencyTable", "PrivacyTable", "TemplatesTable", "CustomersTable"):
        assert not any(
            f"{{{table}}}" in resource and not action.endswith(("GetItem", "Query", "BatchGetItem"))
            for action, resource in granted
        ), table
    assert not any(action in ("dynamodb:Scan", "*") for action, _ in granted)
    deletes = [s for s in statements if "dynamodb:DeleteItem" in json.dumps(s["Action"])]
    assert deletes and all("dynamodb:LeadingKeys" in json.dumps(s.get("Condition")) for s in deletes)
    assert set(NOT_THE_OPERATORS) == {"templates", "privacy"}
    # The keys those deletes and writes are held to are the code's own.
    from tuma.adapters.ledger_table import DUE_SENDS
    from tuma.services.guards import CAPS, PAUSE

    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["TakeOffTheDueList"]["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"] == [
        DUE_SENDS
    ]
    guarded = by_sid["PauseAndResume"]["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]
    assert set(guarded) == {PAUSE, CAPS}
