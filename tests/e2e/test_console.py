"""The operator's console in a real browser (Playwright driving Debian's Chromium), against the local
topology: what a customer-care or finance person does with it."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ROOT, shared_fixture
from tests.e2e.conftest import Local, _free_port, running_local

pytestmark = pytest.mark.e2e
SHOTS = ROOT / ".local" / "screenshots"
C2B = shared_fixture("mpesa/c2b_confirmation_request_legacy_docs.json")
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def console_port() -> int:
    return _free_port()


@pytest.fixture(scope="module")
def local(console_port: int) -> Iterator[Local]:
    options = ("--console", "--console-port", str(console_port))
    with running_local("TemplateCacheSeconds=2", options=options) as topology:
        yield topology


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.fail(
            "Debian's chromium is not installed: run `make browser` (scripts/apt_install.sh chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, local: Local, console_port: int) -> Iterator[Any]:
    context = browser.new_context(base_url=f"http://127.0.0.1:{console_port}")
    opened = context.new_page()
    yield opened
    context.close()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _settled(local: Local, key: str, status: str) -> None:
    local.wait_for(lambda: any(e["status"] == status for e in local.ledger(key)), 60, f"{key} {status}")


def _search(page: Any, query: str) -> None:
    page.goto("/")
    page.get_by_label("Receipt number, message key or phone number").fill(query)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_search_a_receipt_and_see_it_delivered_without_the_full_number_anywhere(
    local: Local, page: Any
) -> None:
    assert local.post("/payments/c2b/confirmation/{token}", C2B).status_code == 200
    _settled(local, "LGR219G3EY", "DELIVERED")
    _search(page, "lgr219g3ey")
    assert page.url.endswith("/messages/LGR219G3EY"), page.content()[:600]
    assert page.get_by_role("heading", level=1).inner_text() == "Message LGR219G3EY"
    assert page.locator(".status").first.inner_text() == "DELIVERED"
    assert "Delivery report: DeliveredToTerminal (learnt by callback)" in page.content()
    _shot(page, "message")
    _search(page, "0708 374 149")  # the payer's number, typed in full
    assert "0708374149" not in page.url and "374149" not in page.content().replace("2547*****149", "")
    page.goto("/")
    assert page.locator("table").get_by_text("LGR219G3EY").count() >= 1
    _shot(page, "messages")


def test_a_rejected_payment_shows_why(local: Local, page: Any) -> None:
    body = C2B | {"TransID": "CNS0000002", "TransAmount": "1.500,00"}
    assert local.post("/payments/c2b/confirmation/{token}", body).status_code == 200
    _settled(local, "CNS0000002", "REJECTED")
    _search(page, "CNS0000002")
    assert page.locator(".status").first.inner_text() == "REJECTED"
    assert "is written the European way" in page.locator(".problem").inner_text()
    _shot(page, "rejected")


def test_edit_a_template_preview_save_and_the_next_receipt_uses_it(local: Local, page: Any) -> None:
    page.goto("/templates")
    page.get_by_role("link", name="receipt").first.click()
    assert page.url.endswith("/templates/receipt/en")
    words = "{{ reference }}: ACME Water received {{ amount | money }} from {{ name }}. Asante!"
    page.get_by_label(re.compile("^Words")).fill(words)
    page.get_by_role("button", name="Preview").click()
    assert "QKX1AB2CD3: ACME Water received KES 50.00 from . Asante!" in page.locator(".sms").inner_text()
    page.get_by_label(re.compile("^Words")).fill("Asante {{ name }}!")
    page.get_by_role("button", name="Save").click()
    assert "must show reference and amount" in page.get_by_role("alert").inner_text()  # refused, not saved
    page.get_by_label(re.compile("^Words")).fill(words)
    page.get_by_label(re.compile("^Why it changed")).fill("ACME wording")
    page.get_by_role("button", name="Save").click()
    assert "Saved as version 2" in page.get_by_role("status").inner_text()
    _shot(page, "template")
    time.sleep(2.5)  # the sender's template cache in this topology
    assert (
        local.post("/payments/c2b/confirmation/{token}", C2B | {"TransID": "CNS0000003"}).status_code == 200
    )
    local.wait_for(
        lambda: any(
            m["message"] == "CNS0000003: ACME Water received KES 10.00 from John Doe. Asante!"
            for m in local.phones()
        ),
        60,
        "the receipt in the new words",
    )
    page.get_by_role("button", name="Use this version").first.click()
    assert "back at version 1" in page.get_by_role("status").inner_text()


def test_move_dead_letters_back_from_the_health_page(local: Local, page: Any) -> None:
    dead = local.ready["queues"]["OutboxDeadLetterQueue"]
    body = {"idempotency_key": "CNS-DEAD-1", "to": ["0712000777"], "text": "Back from the dead letters."}
    local.aws("sqs").send_message(QueueUrl=dead, MessageBody=json.dumps(body))
    page.goto("/health")
    assert page.get_by_role("heading", name="Dead letters").is_visible()
    _shot(page, "health")
    page.get_by_role("button", name="Send back to the queue").click()
    assert "1 message(s) sent back" in page.get_by_role("status").inner_text()
    local.wait_for(
        lambda: any(m["message"] == body["text"] for m in local.phones()), 60, "the redriven message"
    )


def test_resend_to_a_corrected_number_asks_first_and_links_the_two(local: Local, page: Any) -> None:
    assert (
        local.post("/payments/c2b/confirmation/{token}", C2B | {"TransID": "CNS0000005"}).status_code == 200
    )
    _settled(local, "CNS0000005", "DELIVERED")
    page.goto("/messages/CNS0000005")
    page.get_by_label(re.compile("^Resend to another number")).fill("0722 000 555")
    page.get_by_role("button", name="Resend…").click()
    assert "To: 2547*****555" in page.locator(".card").inner_text() and "0722000555" not in page.content()
    page.get_by_role("button", name="Yes, resend").click()
    assert "A resend of CNS0000005" in page.locator("main").inner_text() and "~resend-" in page.url
    local.wait_for(lambda: any(m["mobile"] == "254722000555" for m in local.phones()), 60, "the resend")


def test_stop_promotions_to_a_number_check_it_record_a_consent_and_undo_both(local: Local, page: Any) -> None:
    def submit(button: Any) -> None:
        with page.expect_navigation():
            button.click()

    page.goto("/people")
    page.locator("#stop-number").fill("0722 000 777")
    page.get_by_label("Why").fill("called customer care")
    submit(page.get_by_role("button", name="Stop", exact=True))
    assert "2547*****777 will get no more promotions." in page.locator("main").inner_text()
    page.goto("/people")
    row = page.locator("tr", has_text="2547*****777")
    assert "promotions" in row.inner_text() and "called customer care" in row.inner_text()

    page.locator("#consent-number").fill("+254722000777")
    page.get_by_label("What they agreed to").fill("Offers by SMS, asked at the till")
    submit(page.get_by_role("button", name="Record"))
    page.goto("/people")
    page.locator("#check-number").fill("722000777")
    submit(page.get_by_role("button", name="Check", exact=True))
    verdict = page.locator(".card[role=status]").inner_text()
    _shot(page, "people")
    assert "Receipts, codes and alerts: go" in verdict and "Promotions: SUPPRESSED" in verdict
    assert "0722000777" not in page.content() and "254722000777" not in page.content()

    submit(page.locator("tr", has_text="2547*****777").get_by_role("button", name="Send again"))
    assert "2547*****777 can be sent to again (promotional)." in page.locator("main").inner_text()
    page.goto("/people")
    submit(page.locator("tr", has_text="2547*****777").get_by_role("button", name="Withdraw"))
    assert "consent withdrawn" in page.locator("main").inner_text()
    page.goto("/people")
    assert "2547*****777" not in page.locator("main").inner_text()


def test_pages_are_readable_without_javascript_labelled_headed_and_usable_from_the_keyboard(
    browser: Any, local: Local, console_port: int
) -> None:
    context = browser.new_context(base_url=f"http://127.0.0.1:{console_port}", java_script_enabled=False)
    page = context.new_page()
    for path in ("/", "/messages/LGR219G3EY", "/health", "/templates", "/templates/receipt/sw", "/people"):
        page.goto(path)
        assert page.locator("h1").count() == 1, path
        unlabelled = [
            i.get_attribute("name")
            for i in page.locator("input:not([type=hidden]), select, textarea").all()
            if not i.get_attribute("id") or page.locator(f"label[for='{i.get_attribute('id')}']").count() == 0
        ]
        assert unlabelled == [], (path, unlabelled)
    context.close()
    keyboard = browser.new_context(base_url=f"http://127.0.0.1:{console_port}").new_page()
    keyboard.goto("/")
    for _ in range(8):  # through the navigation to the search box
        keyboard.keyboard.press("Tab")
        if keyboard.evaluate("document.activeElement.id") == "q":
            break
    assert keyboard.evaluate("document.activeElement.id") == "q"
    keyboard.keyboard.type("LGR219G3EY")
    with keyboard.expect_navigation():
        keyboard.keyboard.press("Enter")
    assert keyboard.url.endswith("/messages/LGR219G3EY")
    keyboard.context.close()


def test_an_action_from_another_site_or_without_the_token_is_refused(local: Local, console_port: int) -> None:
    import httpx

    base = f"http://127.0.0.1:{console_port}"
    assert httpx.post(f"{base}/health/redrive", data={"csrf": "guess"}).status_code == 403
    assert httpx.get(base + "/", headers={"Host": "attacker.example"}).status_code == 421
    first = httpx.get(base + "/")
    token = first.cookies["tuma_csrf"]
    foreign = httpx.post(
        f"{base}/health/redrive",
        data={"csrf": token},
        cookies={"tuma_csrf": token},
        headers={"Origin": "http://attacker.example"},
    )
    assert foreign.status_code == 403
    assert httpx.get(f"{base}/health/redrive").status_code == 405  # no action from a GET
