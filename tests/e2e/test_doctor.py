"""`tuma doctor --local` and `tuma local invoke`, against `tuma local up` in its own process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import Local, running_local

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Local, Path]]:
    ready_file = tmp_path_factory.mktemp("doctor") / "ready.json"
    with running_local("AlertRecipients=0722 000 111", ready_file=ready_file) as local:
        yield local, ready_file


def _tuma(ready_file: Path, *arguments: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tuma_cli.main", *arguments, "--local", "--ready-file", str(ready_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=180,
        check=False,
    )


def test_a_fresh_local_topology_is_all_green_and_its_alarms_reach_the_outbox(
    topology: tuple[Local, Path],
) -> None:
    local, ready_file = topology
    answer = _tuma(ready_file, "doctor", "--json", "--test-alarm", "--wait", "60")
    report = json.loads(answer.stdout)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert report["ok"] is True
    names = [check["name"] for check in report["checks"]]
    # A fresh stack still accepts its first path token until each caller's is rotated: a warning.
    warned = [check["name"] for check in report["checks"] if check["warning"]]
    assert warned == ["daraja callback token", "provider callback token"]
    assert names == [
        "provider credentials secret",
        "webhook secret",
        "daraja callback token",
        "provider callback token",
        "API keys",
        "HTTPS only",
        "alarm recipients",
        "provider reachable from the fixed egress",
        "credit",
        "delivery reports by callback",
        "Powertools layer",
        "payments stream",
        "concurrency headroom",
        "dead letters",
        "alarm delivery",
    ]
    alarm = report["checks"][-1]["detail"]
    assert "AlarmDeliveryTest reached the outbox" in alarm and "2547*****111" in alarm
    assert [s for s in local.phones() if "AlarmDeliveryTest" in s["message"]]  # the SMS itself


def test_what_is_broken_is_a_cross_with_its_fix_and_a_failing_exit(topology: tuple[Local, Path]) -> None:
    local, ready_file = topology
    secrets = local.aws("secretsmanager")
    arn = local.ready["secrets"]["ProviderCredentialsSecret"]
    good = secrets.get_secret_value(SecretId=arn)["SecretString"]
    queue = local.ready["queues"]["OutboxDeadLetterQueue"]
    try:
        secrets.put_secret_value(
            SecretId=arn,
            SecretString=json.dumps({"apikey": "REPLACE_ME", "partnerID": "1", "shortcode": "X"}),
        )
        local.aws("sqs").send_message(QueueUrl=queue, MessageBody='{"idempotency_key": "x"}')
        answer = _tuma(ready_file, "doctor")
        assert answer.returncode == 1
        lines = answer.stdout.splitlines()
        assert "✗ provider credentials secret: apikey is still REPLACE_ME" in lines
        assert any(
            line.startswith("    fix: aws secretsmanager put-secret-value --secret-id " + arn)
            for line in lines
        )
        assert "✗ dead letters: 1 outbox messages waiting" in lines
        assert lines[-1].endswith("2 ✗")
    finally:
        secrets.put_secret_value(SecretId=arn, SecretString=good)
        local.aws("sqs").purge_queue(QueueUrl=queue)


def test_local_invoke_runs_one_function_with_a_sample_event_against_the_topology(
    topology: tuple[Local, Path],
) -> None:
    local, ready_file = topology
    sent = _tuma(ready_file, "local", "invoke", "outbox_sender", "--event", "events/outbox_receipt.json")
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout) == {"batchItemFailures": []}
    local.wait_for(
        lambda: [s for s in local.phones() if s["message"].startswith("SFK1A2B3C4 confirmed")],
        what="the sample receipt at the simulator",
    )
    balance = _tuma(ready_file, "local", "invoke", "BalanceMonitorFunction", "--json", stdin="{}")
    assert balance.returncode == 0 and json.loads(balance.stdout)["answer"]["low"] is False
    # An envelope SQS could not have sent is answered, not a crash (nothing in it to send or retry).
    odd = _tuma(ready_file, "local", "invoke", "outbox_sender", stdin='{"Records": "not a list"}')
    assert odd.returncode == 0 and json.loads(odd.stdout) == {"batchItemFailures": []}, odd.stderr
    # A function that fails is exit 1 with its error: the credit cannot be read while the provider
    # answers every request with a 502.
    faults = local.ready["simulator_url"] + "/_sandbox/faults"
    httpx.post(faults, json={"rate": 1.0, "kinds": ["5xx"]}).raise_for_status()
    try:
        failed = _tuma(ready_file, "local", "invoke", "BalanceMonitorFunction", stdin="{}")
    finally:
        httpx.delete(faults).raise_for_status()
    assert failed.returncode == 1 and "errorMessage" in failed.stderr, failed.stderr
    unknown = _tuma(ready_file, "local", "invoke", "no_such_function", stdin="{}")
    assert unknown.returncode == 2 and "Function not found" in unknown.stderr


def test_the_local_api_answers_methods_api_gateway_lacks_as_api_gateway_does(
    topology: tuple[Local, Path],
) -> None:
    local, _ = topology
    for method in ("TRACE", "CONNECT", "PROPFIND"):
        answer = httpx.request(method, local.url("/payments"), timeout=10)
        assert (answer.status_code, answer.json()) == (403, {"message": "Missing Authentication Token"}), (
            method
        )
    options = httpx.request("OPTIONS", local.url("/payments"), timeout=10)  # ANY: the function answers
    assert options.status_code == 405 and options.headers["Allow"] == "POST"


def test_the_test_sms_proves_the_sender_id_and_a_wrong_one_is_a_cross_with_its_fix(
    topology: tuple[Local, Path],
) -> None:
    """The provider check reads the credit with the apikey alone: only a real SMS proves the sender ID."""
    local, ready_file = topology
    good = _tuma(ready_file, "doctor", "--json", "--test-sms", "0722 000 333", "--wait", "60")
    report = json.loads(good.stdout)
    [check] = [c for c in report["checks"] if c["name"] == "sender ID"]
    assert check["ok"] is True and not check["warning"], check
    assert "'TUMA' sent the test SMS" in check["detail"] and "DELIVERED to 2547*****333" in check["detail"]
    assert [s for s in local.phones() if "Tuma test from" in s["message"]]
    # The provider assigned the business another sender ID than the one in the secret.
    simulator = str(local.ready["simulator_url"])
    assigned = httpx.get(f"{simulator}/_sandbox/config").json()["shortcode"]
    httpx.post(f"{simulator}/_sandbox/config", json={"shortcode": "TUMA-PAY"}).raise_for_status()
    try:
        wrong = _tuma(ready_file, "doctor", "--test-sms", "0722 000 333", "--wait", "60")
    finally:
        httpx.post(f"{simulator}/_sandbox/config", json={"shortcode": assigned}).raise_for_status()
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    lines = wrong.stdout.splitlines()
    [cross] = [line for line in lines if line.startswith("✗ sender ID: ")]
    assert "'TUMA': the provider answered 1001, Invalid sender id" in cross
    assert any("exactly as the provider assigned it (case-sensitive)" in line for line in lines)
    assert "722000333" not in wrong.stdout  # the operator's own number is masked like any other


def test_a_stack_whose_alarms_nobody_hears_fails_the_doctor(tmp_path: Path) -> None:
    """Issue 32: the template's defaults leave AlertRecipients and AlarmEmail empty; the doctor says so."""
    ready_file = tmp_path / "ready.json"
    with running_local(ready_file=ready_file):
        answer = _tuma(ready_file, "doctor")
    assert answer.returncode == 1, answer.stdout
    lines = answer.stdout.splitlines()
    assert (
        "✗ alarm recipients: nobody hears the alarms: AlertRecipients and AlarmEmail are both empty" in lines
    )
    fix = lines[
        lines.index(
            "✗ alarm recipients: nobody hears the alarms: AlertRecipients and AlarmEmail are both empty"
        )
        + 1
    ]
    assert (
        fix.strip()
        == "fix: deploy with AlertRecipients=07XXXXXXXX,07YYYYYYYY and AlarmEmail=you@example.co.ke"
    )
