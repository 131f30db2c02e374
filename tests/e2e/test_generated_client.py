"""A client generated from docs/openapi.json, as a business would generate one, works against
`tuma local up` without a hand-written line: the only code here is the business's own (RFC 9421
signing plugged into httpx, and the calls)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Generator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import Local, running_local
from tuma_cli.api_signing import ApiKeyCredentials, signature_headers

pytestmark = pytest.mark.e2e


class Signed(httpx.Auth):
    """RFC 9421 on every request the generated client makes (the README's recipe, as an httpx Auth)."""

    requires_request_body = True

    def __init__(self, key: ApiKeyCredentials) -> None:
        self.key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(
            signature_headers(self.key, request.method, str(request.url), request.content or None)
        )
        yield request


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    where = tmp_path_factory.mktemp("client")
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("openapi-python-client")),
            "generate",
            "--path",
            str(ROOT / "docs" / "openapi.json"),
            "--meta",
            "none",
            "--output-path",
            str(where / "tuma_client"),
        ],
        cwd=where,
        env={**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = run.stdout + run.stderr
    print("\n" + output)
    assert run.returncode == 0, output
    assert "Warning" not in output and "warning" not in output, output  # a model dropped is a defect
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module("tuma_client")
    finally:
        sys.path.remove(str(where))


@pytest.fixture(scope="module")
def client(generated: Any) -> Iterator[tuple[Any, Local]]:
    with running_local("AlertRecipients=0722000111") as local:
        made = generated.AuthenticatedClient(
            base_url=local.url("/v1"),
            token="-",  # the document's schemes are headers the Auth below writes, not a bearer token
            auth_header_name="X-Unused",
            httpx_args={"auth": Signed(local.api_key)},
        )
        yield made, local


def test_the_generated_client_sends_a_payment_reads_its_story_and_a_422(client: tuple[Any, Local]) -> None:
    api, _ = client
    from tuma_client.api.signed import message_story_messages_key_get, payment_payments_post
    from tuma_client.models import InvalidRequest, MessageStory, PaymentRequest, Queued

    queued = payment_payments_post.sync(
        client=api, body=PaymentRequest(reference="QKGEN00001", amount="150.00", phone="0712345678")
    )
    assert isinstance(queued, Queued) and queued.idempotency_key == "QKGEN00001"
    story = message_story_messages_key_get.sync(client=api, key="QKGEN00001")
    assert isinstance(story, MessageStory) and story.idempotency_key == "QKGEN00001"
    refused = payment_payments_post.sync_detailed(
        client=api, body=PaymentRequest(reference="QKGEN00002", amount="0", phone="0712345678")
    )
    assert refused.status_code == 422 and isinstance(refused.parsed, InvalidRequest)
    assert [f.field for f in refused.parsed.fields] == ["amount"]


def test_the_generated_client_schedules_an_alert_and_cancels_it(client: tuple[Any, Local]) -> None:
    api, local = client
    from tuma_client.api.signed import (
        alert_alerts_post,
        cancel_message_messages_key_delete,
        message_story_messages_key_get,
    )
    from tuma_client.models import AlertRequest, Cancelled, Queued

    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    queued = alert_alerts_post.sync(
        client=api, body=AlertRequest(id="gen-1", title="Backup late", send_at=later)
    )
    assert isinstance(queued, Queued) and queued.idempotency_key == "alert:gen-1"

    def scheduled() -> bool:
        story = message_story_messages_key_get.sync(client=api, key="alert:gen-1")
        return bool(story and story.recipients and story.recipients[0]["status"] == "SCHEDULED")

    local.wait_for(scheduled, timeout=20, what="the alert's schedule")
    cancelled = cancel_message_messages_key_delete.sync(client=api, key="alert:gen-1")
    assert isinstance(cancelled, Cancelled) and cancelled.result.value == "cancelled"
