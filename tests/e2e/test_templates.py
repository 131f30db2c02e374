"""The business's own words, changed with `tuma templates` while the local topology runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, shared_fixture
from tests.e2e.conftest import Local, running_local

pytestmark = pytest.mark.e2e
C2B = shared_fixture("mpesa/c2b_confirmation_request_legacy_docs.json")


@pytest.fixture(scope="module")
def ready_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("templates") / "ready.json"


@pytest.fixture(scope="module")
def local(ready_file: Path) -> Iterator[Local]:
    # Edits reach the sender within two seconds here (sixty at most when deployed).
    with running_local(
        "TemplateCacheSeconds=2", "BusinessName=ACME Water", ready_file=ready_file
    ) as topology:
        yield topology


def tuma(ready_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "tuma_cli.main",
        "templates",
        "--local",
        "--ready-file",
        str(ready_file),
        *args,
    ]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def _pay(local: Local, reference: str, short_code: str = "600134") -> None:
    body = C2B | {
        "TransID": reference,
        "BusinessShortCode": short_code,
        "FirstName": "Achieng",
        "MiddleName": "",
        "LastName": "",
    }
    assert local.post("/payments/c2b/confirmation/{token}", body).status_code == 200


def _text(local: Local, reference: str) -> str:
    def sent() -> str | None:
        ids = {e.get("provider_message_id") for e in local.ledger(reference)}
        return next((m["message"] for m in local.phones() if m["messageid"] in ids), None)

    text: str = local.wait_for(sent, 60, f"the receipt of {reference}")
    return text


def test_a_saved_receipt_template_reaches_the_next_receipts_and_any_version_comes_back(
    local: Local, ready_file: Path
) -> None:
    listed = json.loads(tuma(ready_file, "--json", "list").stdout)
    assert {(t["name"], t["language"], t["version"]) for t in listed} >= {
        ("receipt", "en", 1),
        ("receipt", "sw", 1),
    }
    _pay(local, "TPL0000001")
    assert _text(local, "TPL0000001").startswith("TPL0000001 confirmed. We have received KES 10.00")

    words = "Dear {{ name }}, {{ business }} has received {{ amount | money }} for meter {{ account }}. Ref {{ reference }}."
    saved = tuma(ready_file, "put", "receipt", "--language", "en", "--text", words, "--note", "ACME wording")
    assert saved.returncode == 0, saved.stderr
    assert "version 2" in saved.stdout and "1 SMS part(s) at best, 2 at worst" in saved.stdout
    started, n = time.monotonic(), 1
    while True:  # the first receipt after the save that carries the new words
        n += 1
        reference = f"TPL{n:07d}"
        _pay(local, reference)
        if _text(local, reference).startswith(
            "Dear Achieng, ACME Water has received KES 10.00 for meter xyz."
        ):
            break
        assert time.monotonic() - started < 30, "the new words never arrived"
    print(f"\nfirst receipt in the new words {time.monotonic() - started:.1f} s after the save")

    refused = tuma(ready_file, "put", "receipt", "--language", "en", "--text", "Asante {{ name }}!")
    assert refused.returncode == 1 and "must show reference and amount" in refused.stderr
    assert tuma(ready_file, "show", "receipt").stdout.strip() == words  # the refused one changed nothing

    assert tuma(ready_file, "use", "receipt", "--language", "en", "--version", "1").returncode == 0
    time.sleep(2.5)
    _pay(local, "TPL0000100")
    assert _text(local, "TPL0000100").startswith("TPL0000100 confirmed. We have received")
    history = json.loads(tuma(ready_file, "--json", "history", "receipt").stdout)
    assert [v["version"] for v in history] == [2, 1] and history[0]["note"] == "ACME wording"


def test_two_paybills_get_their_own_words(local: Local, ready_file: Path) -> None:
    for name, words in (
        ("receipt_water", "{{ reference }}: ACME Water got {{ amount | money }} for meter {{ account }}."),
        (
            "receipt_school",
            "{{ reference }}: St. Mary's got {{ amount | money }} school fees for {{ account }}.",
        ),
    ):
        saved = tuma(ready_file, "put", name, "--language", "en", "--kind", "receipt", "--text", words)
        assert saved.returncode == 0, saved.stderr
    rules = [
        {"template": "receipt_water", "short_code": "600134"},
        {"template": "receipt_school", "short_code": "600200"},
    ]
    routing = tuma(ready_file, "routing", "put", "--text", json.dumps(rules))
    assert routing.returncode == 0, routing.stderr
    bad = tuma(ready_file, "routing", "put", "--text", json.dumps([{"template": "alert"}]))
    assert bad.returncode == 1 and "is a alert template, not a receipt" in bad.stderr
    time.sleep(2.5)
    _pay(local, "TPL0000201", "600134")
    _pay(local, "TPL0000202", "600200")
    _pay(local, "TPL0000203", "999999")
    assert _text(local, "TPL0000201") == "TPL0000201: ACME Water got KES 10.00 for meter xyz."
    assert _text(local, "TPL0000202") == "TPL0000202: St. Mary's got KES 10.00 school fees for xyz."
    assert _text(local, "TPL0000203").startswith("TPL0000203 confirmed.")  # no rule: the default


def test_preview_shows_the_sms_its_parts_and_the_worst_case(ready_file: Path) -> None:
    preview = tuma(
        ready_file,
        "--json",
        "preview",
        "receipt",
        "--language",
        "sw",
        "--data",
        json.dumps({"name": "Wanjiku 🙏", "amount": "1,500"}),
    )
    assert preview.returncode == 0, preview.stderr
    shown = json.loads(preview.stdout)
    assert shown["text"].startswith("QKX1AB2CD3 imethibitishwa. Tumepokea KES 1,500.00 kutoka kwa Wanjiku.")
    assert (shown["parts"], shown["encoding"], shown["worst_parts"]) == (1, "GSM7", 3)
    missing = tuma(ready_file, "preview", "nosuch")
    assert missing.returncode == 1 and "there is no template 'nosuch'" in missing.stderr


def tuma_cli(ready_file: Path, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    full = [sys.executable, "-m", "tuma_cli.main", command, *args, "--local", "--ready-file", str(ready_file)]
    return subprocess.run(full, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_trace_tells_a_payments_story_by_receipt_number_or_phone_and_cancel_withdraws_a_scheduled_one(
    local: Local, ready_file: Path
) -> None:
    _pay(local, "TRC0000001")
    _text(local, "TRC0000001")
    by_receipt = tuma_cli(ready_file, "trace", "trc0000001", "--json")
    assert by_receipt.returncode == 0, by_receipt.stderr
    [story] = [json.loads(line) for line in by_receipt.stdout.splitlines()]
    assert story["idempotency_key"] == "TRC0000001" and story["recipient"] == "2547*****149"
    assert story["provider_message_id"] and story["status"] in ("SENT", "DELIVERED")
    by_phone = tuma_cli(ready_file, "trace", "0708 374 149")
    assert by_phone.returncode == 0 and "TRC0000001  to 2547*****149" in by_phone.stdout
    assert "0708374149" not in by_phone.stdout + by_receipt.stdout

    later = time.time() + 3600
    body = {
        "idempotency_key": "TRC-LATER",
        "to": ["0712345678"],
        "text": "Later.",
        "send_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(later)),
    }
    local.aws("sqs").send_message(QueueUrl=local.ready["queues"]["OutboxQueue"], MessageBody=json.dumps(body))
    local.wait_for(
        lambda: any(e["status"] == "SCHEDULED" for e in local.ledger("TRC-LATER")), 30, "the schedule"
    )
    cancelled = tuma_cli(ready_file, "cancel", "TRC-LATER")
    assert (cancelled.returncode, cancelled.stdout.strip()) == (0, "TRC-LATER: cancelled")
    again = tuma_cli(ready_file, "cancel", "TRC-LATER")  # said again, as the API does: never "already sent"
    assert (again.returncode, again.stdout.strip()) == (0, "TRC-LATER: cancelled")
    assert [e["status"] for e in local.ledger("TRC-LATER")] == ["CANCELLED"]
