"""Property tests: arbitrary bodies and headers at every webhook route never get a 5xx, and a 4xx queues nothing."""

from __future__ import annotations

import base64
import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import shared_fixture
from tests.integration.conftest import Stack, load_function
from tests.integration.webhook_client import WebhookClient

pytestmark = pytest.mark.integration

EXAMPLES = 60
ROUTES = ["c2b/validation", "c2b/confirmation", "stk", "delivery-reports", "/payments", "/alerts"]
SEEDS = {
    "c2b/validation": shared_fixture("mpesa/c2b_validation_request_legacy_docs.json"),
    "c2b/confirmation": shared_fixture("mpesa/c2b_confirmation_request_legacy_docs.json"),
    "stk": shared_fixture("mpesa/stk_callback_success_official.json"),
    "delivery-reports": shared_fixture("provider/advanta_dlr_callback.json"),
    "/payments": {"reference": "P1", "amount": "10", "phone": "0712345678"},
    "/alerts": {"id": "a1", "title": "Disk full"},
}
ran: Counter[str] = Counter()
answers: Counter[tuple[str, int]] = Counter()

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12,
)


@st.composite
def mutated(draw: st.DrawFn, seed: dict[str, Any]) -> dict[str, Any]:
    """A plausible payload with some fields removed, retyped or replaced."""
    body: dict[str, Any] = json.loads(json.dumps(seed))
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=4, unique=True)):
        action = draw(st.sampled_from(["drop", "replace"]))
        if action == "drop":
            body.pop(key)
        else:
            body[key] = draw(json_value)
    return body


def bodies(route: str) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
        json_value.map(lambda v: json.dumps(v).encode()),
        mutated(SEEDS[route]).map(lambda v: json.dumps(v).encode()),
        mutated(SEEDS[route]).map(lambda v: json.dumps(v).encode()),
    )


headers = st.dictionaries(
    st.sampled_from(
        [
            "Content-Type",
            "Signature",
            "Signature-Input",
            "content-digest",
            "Host",
            "X-Forwarded-For",
            "Authorization",
        ]
    )
    | st.text(min_size=1, max_size=10),
    st.text(max_size=60),
    max_size=4,
)


def _counts(stack: Stack) -> tuple[int, int]:
    queued = 0
    for lane in ("FastOutboxQueue", "OutboxQueue"):
        attributes = stack.client("sqs").get_queue_attributes(
            QueueUrl=stack.topology.resources[lane]["QueueUrl"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        queued += int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
    ledger = stack.client("dynamodb").scan(TableName=stack.topology.ref("LedgerTable"), Select="COUNT")[
        "Count"
    ]
    return queued, ledger


@pytest.fixture
def hooks(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> WebhookClient:
    return WebhookClient.create(stack, load_function(stack, "webhooks", monkeypatch))


@pytest.mark.parametrize("route", ROUTES)
def test_no_input_gets_a_5xx_and_no_4xx_queues_anything(
    hooks: WebhookClient, stack: Stack, route: str
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        body=bodies(route),
        extra=headers,
        encode=st.booleans(),
        sign=st.booleans(),
        token_ok=st.sampled_from([True, True, True, False]) if not route.startswith("/") else st.just(True),
        method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT"]),
    )
    # The seed itself, as its sender would send it: whatever examples the generator draws (they
    # follow the test's source), the routes' logic is reached at least once.
    @example(
        body=json.dumps(SEEDS[route]).encode(),
        extra={},
        encode=False,
        sign=True,
        token_ok=True,
        method="POST",
    )
    def check(
        body: bytes, extra: dict[str, str], encode: bool, sign: bool, token_ok: bool, method: str
    ) -> None:
        if route.startswith("/"):
            path = route
        else:
            prefix = "/delivery-reports" if route == "delivery-reports" else f"/payments/{route}"
            path = f"{prefix}/{hooks.token if token_ok else 'guess'}"
        request_headers = dict(extra)
        if sign and route.startswith("/"):
            request_headers |= hooks.signed_headers(body, path, method)
        event = hooks.event(path, body, request_headers, method=method)
        if encode:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        before = _counts(stack)
        answer = hooks.send(event)
        ran[route] += 1
        answers[(route, answer.status)] += 1
        assert 200 <= answer.status < 500, (answer.status, answer.body)
        assert isinstance(answer.body, dict)
        if answer.status >= 400:
            assert _counts(stack) == before, f"{answer.status} but something was recorded"

    check()
    assert ran[route] >= EXAMPLES
    seen = {status for (r, status) in answers if r == route}
    # The routes' logic is reached (a success) as well as each guard (4xx).
    assert any(200 <= s < 300 for s in seen), seen
    assert any(400 <= s < 500 for s in seen), seen
