"""What a cold start of the webhooks function builds, and what waits for the request that needs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import shared_fixture
from tests.integration.conftest import Stack, load_function
from tests.integration.webhook_client import WebhookClient

# Run as Lambda runs the function: a fresh interpreter, its directory first on the path.
CONTAINER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from tuma_cli.local.context import LocalContext
import app
def loaded():
    return sorted(m for m in sys.modules if m.startswith(("tuma.models.", "tuma.security.")))
at_init = loaded()
answer = app.lambda_handler(json.loads(sys.argv[2]), LocalContext("Webhooks"))
print(json.dumps({"init": at_init, "after": loaded(), "status": answer["statusCode"], "body": answer["body"]}))
"""
# Each route's body model is imported with its first request (tuma.runtime.routes); the signature
# parser with the first signed request (tuma.runtime.webhook_gate).
ROUTE_MODELS = {
    "tuma.models.mpesa",  # Daraja's callbacks
    "tuma.models.alerts",  # POST /alerts
    "tuma.models.privacy_requests",  # the privacy routes
    "tuma.models.delivery_callback",  # the provider's delivery reports
}
SIGNATURES = {"tuma.security.message_signatures", "tuma.security.structured_fields"}


def test_a_cold_start_builds_no_routes_model_and_a_callback_builds_only_its_own(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = WebhookClient.create(stack, load_function(stack, "webhooks", monkeypatch))  # its environment
    payment = shared_fixture("mpesa/c2b_confirmation_request_legacy_docs.json") | {"TransID": "TCS0000001"}
    event = hooks.event(f"/payments/c2b/confirmation/{hooks.daraja_token}", payment)
    directory = stack.topology.functions["webhooks"].directory
    answer = subprocess.run(
        [sys.executable, "-c", CONTAINER, str(directory), json.dumps(event)],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr[-3000:]
    found = json.loads(answer.stdout.strip().splitlines()[-1])
    assert (found["status"], json.loads(found["body"])) == (200, {"ResultCode": 0, "ResultDesc": "Accepted"})
    assert not (ROUTE_MODELS | SIGNATURES) & set(found["init"])
    assert (
        "tuma.models.privacy_records" not in found["init"]
    )  # the privacy service is built when first needed
    # The callback loaded Daraja's models, and nothing of the routes it did not call.
    assert (ROUTE_MODELS | SIGNATURES) & set(found["after"]) == {"tuma.models.mpesa"}
    [queued] = stack.queued()  # and the receipt is on its way, as from a warm container
    assert queued["idempotency_key"] == "TCS0000001"
