"""The console's pages in-process (Starlette's test client) over a real moto server, with a ledger
the outbox sender wrote. The browser tests (tests/e2e/test_console.py) drive the same pages through
Chromium against `tuma local up`; these reach the paths a browser test would take minutes to."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.integration.conftest import Stack, load_function, outbox_poller
from tests.integration.test_outbox_sender import _drain, _put, _receipt
from tuma_cli.console.app import CSRF_COOKIE, create_app
from tuma_cli.console.backend import Backend
from tuma_cli.stack import SECRETS, TABLES
from tuma_cli.stack import Stack as Located

pytestmark = pytest.mark.integration
PORT = 8765
PHONE = "0712345678"


def _located(stack: Stack) -> Located:
    """The local stack as `tuma` finds a deployed one: its tables, queues and secrets."""
    resources = stack.topology.resources
    return Located(
        tables={
            name: stack.topology.ref(logical)
            for name, (_, logical, _) in TABLES.items()
            if logical in resources
        },
        endpoint=stack.endpoint,
        region="us-east-1",
        ready={
            "queues": {k: v["QueueUrl"] for k, v in resources.items() if "QueueUrl" in v},
            "secrets": {
                logical: stack.topology.ref(logical)
                for _, logical in SECRETS.values()
                if logical in resources
            },
        },
    )


def sent_and_scheduled(
    stack: Stack, backend: Backend, monkeypatch: pytest.MonkeyPatch, *others: dict[str, Any]
) -> None:
    """The business's templates, a receipt the sender sent to PHONE and `fees-friday` scheduled two
    hours ahead (and `others`): what the console's pages and actions start from."""
    backend.editor.seed()
    sender = load_function(stack, "outbox_sender", monkeypatch)
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    _put(
        stack,
        _receipt("SFK1A2B3C4", PHONE),
        {"idempotency_key": "fees-friday", "to": ["0712000222"], "text": "Fees due.", "send_at": later},
        *others,
    )
    _drain(stack, outbox_poller(stack, sender))


@pytest.fixture
def console(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, Stack, Backend]:
    backend = Backend(_located(stack))
    broken = {"idempotency_key": "broken", "to": ["0712000333"], "template": "no-such-template"}
    sent_and_scheduled(stack, backend, monkeypatch, broken)
    client = TestClient(create_app(backend, PORT, "test"), base_url=f"http://127.0.0.1:{PORT}")
    client.get("/")  # the first visit sets the session's token
    return client, stack, backend


def _token(client: TestClient) -> str:
    return str(client.cookies.get(CSRF_COOKIE))


def test_the_day_lists_every_message_filterable_and_never_a_full_number(
    console: tuple[TestClient, Stack, Backend],
) -> None:
    client, _, _ = console
    page = client.get("/")
    assert page.status_code == 200
    assert "SFK1A2B3C4" in page.text and "fees-friday" in page.text and "broken" in page.text
    assert "712345678" not in page.text and "2547*****678" in page.text
    sent_only = client.get("/", params={"status": "SENT"})
    assert "SFK1A2B3C4" in sent_only.text and "fees-friday" not in sent_only.text
    assert "broken" in client.get("/", params={"status": "REJECTED"}).text
    assert "SFK1A2B3C4" not in client.get("/", params={"source": "c2b"}).text


def test_search_by_receipt_number_or_phone_leads_to_the_story(
    console: tuple[TestClient, Stack, Backend],
) -> None:
    client, _, _ = console
    found = client.post("/search", data={"q": "sfk1a2b3c4", "csrf": _token(client)}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == "/messages/SFK1A2B3C4"
    story = client.get("/messages/SFK1A2B3C4")
    assert story.status_code == 200 and "SENT" in story.text and "712345678" not in story.text
    by_phone = client.post("/search", data={"q": "+254 712 345 678", "csrf": _token(client)})
    assert by_phone.status_code == 200 and "SFK1A2B3C4" in by_phone.text
    assert "712345678" not in by_phone.text
    nothing = client.post("/search", data={"q": "nothing-like-this", "csrf": _token(client)})
    assert "SFK1A2B3C4" not in nothing.text
    assert client.get("/messages/NOPE").status_code == 404


def test_the_search_box_is_on_every_page_and_finds_a_cancelled_stk_payment_by_its_checkout_id(
    console: tuple[TestClient, Stack, Backend],
) -> None:
    client, _, backend = console
    from tuma.models.ledger import LedgerEntry, Status

    checkout = "ws_CO_210720241252432507229439"
    backend.ledger.record_unsendable(
        [
            LedgerEntry(
                f"stk:{checkout}",
                "-",
                "-",
                Status.REJECTED,
                source="stk",
                reason="payment not completed: 1032",
            )
        ]
    )
    for page in ("/", "/health", "/templates", "/payments", "/messages/SFK1A2B3C4"):
        assert 'role="search"' in client.get(page).text, page
    found = client.post(
        "/search", data={"q": f" {checkout} ", "csrf": _token(client)}, follow_redirects=False
    )
    assert found.status_code == 303 and found.headers["location"] == f"/messages/stk%3A{checkout}"
    assert "1032" in client.get(found.headers["location"]).text


def test_a_post_without_the_session_token_or_from_elsewhere_is_refused(
    console: tuple[TestClient, Stack, Backend],
) -> None:
    client, _, _ = console
    assert client.post("/search", data={"q": "SFK1A2B3C4"}).status_code == 403
    assert client.post("/search", data={"q": "x", "csrf": "forged"}).status_code == 403
    elsewhere = client.post(
        "/search", data={"q": "x", "csrf": _token(client)}, headers={"origin": "http://evil.example"}
    )
    assert elsewhere.status_code == 403
    assert client.get("/", headers={"host": "console.example:8765"}).status_code == 421
    page = client.get("/")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_resend_asks_first_shows_only_the_masked_number_and_links_both_messages(
    console: tuple[TestClient, Stack, Backend],
) -> None:
    client, stack, _ = console
    story = client.get("/messages/SFK1A2B3C4").text
    ref = re.search(r'name="recipient_ref" value="([^"]+)"', story)
    assert ref, "the story offers a resend"
    ask = client.post(
        "/messages/SFK1A2B3C4/resend",
        data={"recipient_ref": ref.group(1), "number": "0722 000 111", "csrf": _token(client)},
    )
    assert ask.status_code == 200 and "2547*****111" in ask.text and "722000111" not in ask.text
    token = re.search(r'name="token" value="([^"]+)"', ask.text)
    assert token
    done = client.post(
        "/messages/SFK1A2B3C4/resend",
        data={
            "recipient_ref": ref.group(1),
            "confirm": "yes",
            "token": token.group(1),
            "csrf": _token(client),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and "~resend-" in done.headers["location"]
    url = stack.topology.resources["OutboxQueue"]["QueueUrl"]
    queued = stack.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["to"] for m in queued] == [["254722000111"]]
    assert "~resend-" in client.get("/messages/SFK1A2B3C4").text  # the original links to its resend
    expired = client.post(
        "/messages/SFK1A2B3C4/resend",
        data={"recipient_ref": ref.group(1), "confirm": "yes", "token": "stale", "csrf": _token(client)},
    )
    assert expired.status_code == 400 and "expired" in expired.text
    bad = client.post(
        "/messages/SFK1A2B3C4/resend",
        data={"recipient_ref": "n:nobody", "number": "", "csrf": _token(client)},
    )
    token = re.search(r'name="token" value="([^"]+)"', bad.text)
    assert bad.status_code == 200 and token  # asked first; refused on confirming, with the reason
    refused = client.post(
        "/messages/SFK1A2B3C4/resend",
        data={"recipient_ref": "n:nobody", "confirm": "yes", "token": token.group(1), "csrf": _token(client)},
    )
    assert refused.status_code == 400 and "never rendered" in refused.text


def test_a_scheduled_message_is_cancelled_once(console: tuple[TestClient, Stack, Backend]) -> None:
    client, _, backend = console
    assert "SCHEDULED" in client.get("/messages/fees-friday").text
    first = client.post("/messages/fees-friday/cancel", data={"csrf": _token(client)})
    assert first.status_code == 200 and "cancelled" in first.text
    again = client.post("/messages/fees-friday/cancel", data={"csrf": _token(client)})
    assert "fees-friday: cancelled" in again.text  # the page says what it is, nothing else changes
    assert {e.status.value for e in backend.ledger.get("fees-friday")} == {"CANCELLED"}


def test_health_counts_the_day_and_dead_letters_go_back(console: tuple[TestClient, Stack, Backend]) -> None:
    client, stack, _ = console
    dlq = stack.topology.resources["OutboxDeadLetterQueue"]["QueueUrl"]
    stack.client("sqs").send_message(QueueUrl=dlq, MessageBody=json.dumps({"idempotency_key": "lost"}))
    health = client.get("/health")
    assert health.status_code == 200 and "malformed outbox message" in health.text  # the day's failure
    assert "Send back to the queue" in health.text
    moved = client.post("/health/redrive", data={"csrf": _token(client)})
    assert moved.status_code == 200 and "1 message(s)" in moved.text
    left = stack.client("sqs").get_queue_attributes(
        QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert left["ApproximateNumberOfMessages"] == "0"


def test_a_template_is_previewed_refused_with_its_reason_saved_and_rolled_back(
    console: tuple[TestClient, Stack, Backend],
) -> None:
    client, _, backend = console
    listing = client.get("/templates")
    assert listing.status_code == 200 and "/templates/receipt/en" in listing.text
    before = backend.editor.current("receipt", "en")
    assert before is not None
    page = client.get("/templates/receipt/en")
    assert page.status_code == 200 and "QKX1AB2CD3" in page.text  # the preview, with example data

    missing_amount = client.post(
        "/templates/receipt/en",
        data={"text": "Thanks {{ name }}.", "action": "save", "csrf": _token(client)},
    )
    assert "amount" in missing_amount.text
    after = backend.editor.current("receipt", "en")
    assert after is not None and after.version == before.version  # refused, not saved

    broken = client.post(
        "/templates/receipt/en", data={"text": "{{ amount ", "action": "preview", "csrf": _token(client)}
    )
    assert broken.status_code == 200 and "unexpected end of template" in broken.text

    new_text = (
        before.text.replace("Thank you", "Asante") if "Thank you" in before.text else before.text + " Asante."
    )
    saved = client.post(
        "/templates/receipt/en",
        data={"text": new_text, "action": "save", "note": "warmer", "csrf": _token(client)},
    )
    assert saved.status_code == 200
    now = backend.editor.current("receipt", "en")
    assert now is not None and now.version == before.version + 1

    back = client.post(
        "/templates/receipt/en/use", data={"version": str(before.version), "csrf": _token(client)}
    )
    assert back.status_code == 200
    current = backend.editor.current("receipt", "en")
    assert current is not None and current.text == before.text


def test_when_aws_cannot_be_reached_the_page_says_so_instead_of_failing(stack: Stack) -> None:
    located = _located(stack)
    located.endpoint = "http://127.0.0.1:9"  # nothing listens there
    client = TestClient(create_app(Backend(located), PORT, "test"), base_url=f"http://127.0.0.1:{PORT}")
    page = client.get("/")
    assert page.status_code == 503 and "could not be reached" in page.text
