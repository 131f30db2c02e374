"""Only a real payment makes a receipt: `tuma local up --daraja` driven from outside.

The Daraja simulator posts its callbacks from 127.0.0.2, the one address the Daraja routes allow
here (Safaricom's own addresses, deployed). A forger holds the right path token and posts from
127.0.0.1, in every shape a callback can take: nothing is sent, nothing is recorded as paid, every
refusal is counted. In the same run, fifty customers really pay: each gets exactly one receipt.
The figures are printed (run with -s).
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tuma.formatting.clock import EAT

from tests.conftest import shared_fixture
from tests.e2e.conftest import Local, running_local, tuma_local

pytestmark = pytest.mark.e2e
FORGED = 200
GENUINE = 50
LARGE = 100_000


@pytest.fixture(scope="module")
def ready_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("forgery") / "ready.json"


@pytest.fixture(scope="module")
def local(ready_file: Path) -> Iterator[Local]:
    # Receipts for payments of KES 100,000 or more wait for M-Pesa's own record (ConfirmPaymentsFrom).
    with running_local(
        f"ConfirmPaymentsFrom={LARGE}", ready_file=ready_file, options=("--daraja",)
    ) as topology:
        registered = tuma_local(ready_file, "daraja", "register")
        assert registered.returncode == 0, registered.stdout + registered.stderr
        yield topology


def _c2b(legacy: bool, n: int) -> tuple[str, dict[str, Any]]:
    name = (
        "c2b_confirmation_request_legacy_docs.json"
        if legacy
        else "c2b_callback_v2_masked_msisdn_official.json"
    )
    body = shared_fixture(f"mpesa/{name}") | {
        "TransID": f"FRG{n:07d}",
        "TransAmount": "50000.00",
        "MSISDN": f"2547{n:08d}"[:12],
        "FirstName": "Forger",
        "BusinessShortCode": "600000",
    }
    return "/payments/c2b/confirmation/{token}", body


def _stk(n: int) -> tuple[str, dict[str, Any]]:
    body = copy.deepcopy(shared_fixture("mpesa/stk_callback_success_official.json"))
    callback = body["Body"]["stkCallback"]
    callback["CheckoutRequestID"] = f"ws_CO_FORGED{n:06d}"
    for item in callback["CallbackMetadata"]["Item"]:
        if item["Name"] == "MpesaReceiptNumber":
            item["Value"] = f"FRS{n:07d}"
        elif item["Name"] == "Amount":
            item["Value"] = 50000
    return "/payments/stk/{token}", body


def _forgeries() -> Iterator[tuple[str, dict[str, Any], dict[str, str]]]:
    """Confirmations (both registration versions), STK results and validations, some claiming an
    address of Safaricom's in a header the caller wrote."""
    shapes = itertools.cycle(("c2b-v1", "c2b-v2", "stk", "validation"))
    for n, shape in zip(range(FORGED), shapes, strict=False):
        if shape == "stk":
            path, body = _stk(n)
        else:
            path, body = _c2b(shape != "c2b-v2", n)
            if shape == "validation":
                path = "/payments/c2b/validation/{token}"
        headers = {"X-Forwarded-For": "196.201.214.200"} if n % 3 == 0 else {}
        yield path, body, headers


def _refused_count(local: Local, since: datetime) -> int:
    answer = local.aws("cloudwatch").get_metric_statistics(
        Namespace="Tuma",
        MetricName="DarajaCallbacksRefused",
        Dimensions=[{"Name": "service", "Value": "tuma"}],
        StartTime=since,
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )
    return int(sum(point["Sum"] for point in answer["Datapoints"]))


def test_forged_callbacks_with_the_right_token_send_nothing_while_real_payments_get_one_receipt_each(
    local: Local,
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=1)
    answers: Counter[int] = Counter()
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.1"), timeout=30) as forger:
        for path, body, headers in _forgeries():
            answers[forger.post(local.url(path), json=body, headers=headers).status_code] += 1
    assert answers == {403: FORGED}

    genuine = [f"QGN{n:07d}" for n in range(GENUINE)]
    for n, receipt in enumerate(genuine):
        payment = {
            "TransID": receipt,
            "TransAmount": f"{100 + n}.00",
            "MSISDN": f"2547120{n:05d}",
            "BillRefNumber": f"ACC-{n}",
            "FirstName": "Real",
            "callback": "deliver",
        }
        local.simulator_at("daraja_simulator_url", "/_sandbox/payments", "POST", json=payment)

    def receipts() -> Counter[str] | None:
        texts = Counter(p["message"].split(" ")[0] for p in local.phones())
        return texts if all(texts[r] for r in genuine) else None

    sent = local.wait_for(receipts, timeout=90, what="the fifty genuine receipts")
    time.sleep(2)  # anything a forgery could have set off would be on its way by now
    sent = receipts() or sent
    assert [r for r in genuine if sent[r] != 1] == []
    assert not [text for text in sent if text.startswith(("FRG", "FRS"))]
    paid = {
        e["idempotency_key"] for e in local.ledger(with_payments=True) if e["recipient_ref"] == "#payment"
    }
    assert paid == set(genuine)
    assert not [e for e in local.ledger() if e["idempotency_key"].startswith(("FRG", "FRS", "stk:"))]
    refused = local.wait_for(lambda: _refused_count(local, started) or None, timeout=30, what="the count")
    assert refused == FORGED
    print(
        f"\n{FORGED} forged callbacks with the right token from 127.0.0.1: {dict(answers)}, "
        f"{refused} counted as DarajaCallbacksRefused, 0 SMS, 0 paid records; "
        f"{GENUINE} real payments: {sum(sent[r] for r in genuine)} receipts, one each"
    )


def _token(local: Local, logical_id: str) -> str:
    value = local.aws("secretsmanager").get_secret_value(SecretId=local.ready["secrets"][logical_id])
    return str(json.loads(value["SecretString"])["token"])


def test_a_rotated_token_works_at_once_and_the_previous_one_only_for_its_grace(
    local: Local, ready_file: Path
) -> None:
    report = {"messageid": "no-such-message", "description": "DeliveredToTerminal"}

    def report_with(token: str) -> int:
        url = f"{local.ready['webhook_base_url']}/delivery-reports/{token}"
        return httpx.post(url, json=report, timeout=30).status_code

    first, legacy = _token(local, "ProviderCallbackSecret"), local.ready["webhook_token"]
    assert report_with(first) == 200 and report_with(legacy) == 200  # legacy: until the first rotation
    rotated = tuma_local(ready_file, "--json", "secrets", "rotate", "provider", "--grace", "0.005")  # 18 s
    assert rotated.returncode == 0, rotated.stderr
    document = json.loads(rotated.stdout)
    assert document["urls"]["delivery reports (primary provider's portal)"].endswith(
        "/delivery-reports/{token}"
    )
    second = _token(local, "ProviderCallbackSecret")
    assert second != first and second not in rotated.stdout and first not in rotated.stdout
    assert report_with(second) == 200  # at once: the function reads the secret again on a miss
    assert report_with(first) == 200 and report_with(legacy) == 200  # within the grace
    local.wait_for(lambda: report_with(first) == 404, timeout=60, what="the previous token's grace to end")
    assert report_with(legacy) == 404 and report_with(second) == 200

    # Daraja's production keeps its first registration: the command says what to ask Safaricom.
    daraja = tuma_local(ready_file, "secrets", "rotate", "daraja")
    assert daraja.returncode == 1, daraja.stdout + daraja.stderr
    assert "already registered" in daraja.stdout and "apisupport@safaricom.co.ke" in daraja.stdout
    assert _token(local, "DarajaCallbackSecret") not in daraja.stdout
    # And tuma doctor, which cannot ask Daraja, knows it from what Tuma registered (issue 32).
    doctor = tuma_local(ready_file, "doctor")
    assert doctor.returncode == 1
    [line] = [line for line in doctor.stdout.splitlines() if line.startswith("✗ Daraja URLs: ")]
    assert "M-Pesa posts to other URLs than the stack's now" in line
    assert "Please delete the C2B confirmation and validation URLs registered for short code" in doctor.stdout


def test_a_transaction_status_answer_tuma_never_asked_for_sends_nothing(local: Local) -> None:
    """From Safaricom's address, with the right token, a completed payment: still nothing, because no
    request of Tuma's is waiting for an answer about that receipt."""
    parameters = {
        "DebitPartyName": "254712000999 - Mallory",
        "CreditPartyName": "600000 - Tuma Sandbox Ltd",
        "TransactionStatus": "Completed",
        "Amount": "50000",
        "ReceiptNo": "QFS0000001",
        "FinalisedTime": "20261207090000",
    }
    body = {
        "Result": {
            "ResultType": 0,
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "OriginatorConversationID": "guessed-1",
            "ConversationID": "AG_guessed_1",
            "TransactionID": "QFS0000001",
            "ResultParameters": {"ResultParameter": [{"Key": k, "Value": v} for k, v in parameters.items()]},
            "ReferenceData": {"ReferenceItem": {"Key": "Occasion", "Value": "QFS0000001"}},
        }
    }
    answer = local.post("/payments/status-results/{token}", body)  # from the allowed address
    assert (answer.status_code, answer.json()) == (200, {"ResultCode": 0, "ResultDesc": "Accepted"})
    time.sleep(2)
    assert not [p for p in local.phones() if p["message"].startswith("QFS0000001")]
    assert not local.ledger("QFS0000001", with_payments=True)


def test_a_payment_to_another_short_code_is_rejected_with_its_reason_and_sends_nothing(local: Local) -> None:
    """From Safaricom's address, with the right token: the short code is not the business's."""
    _, body = _c2b(True, 9000)
    body |= {"TransID": "QSC0000001", "BusinessShortCode": "999999", "FirstName": "Elsewhere"}
    answer = local.post("/payments/c2b/confirmation/{token}", body)
    assert (answer.status_code, answer.json()) == (200, {"ResultCode": 0, "ResultDesc": "Accepted"})
    [entry] = local.ledger("QSC0000001")
    assert entry["status"] == "REJECTED"
    assert entry["reason"].startswith("paid to short code 999999, which is not one of the business's (600000")
    # Kept, so that no later report counts it new, but not as a payment of the business's.
    [record] = [e for e in local.ledger("QSC0000001", with_payments=True) if e["recipient_ref"] == "#payment"]
    assert record["kind"] == "refused-payment" and record["receipt"] == "refused"
    time.sleep(2)
    assert not [p for p in local.phones() if p["message"].startswith("QSC0000001")]


def _metric_sum(local: Local, name: str, since: datetime) -> int:
    answer = local.aws("cloudwatch").get_metric_statistics(
        Namespace="Tuma",
        MetricName=name,
        Dimensions=[{"Name": "service", "Value": "tuma"}],
        StartTime=since,
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )
    return int(sum(point["Sum"] for point in answer["Datapoints"]))


def test_a_callback_payment_mpesas_own_record_never_lists_is_shown_unconfirmed_and_counted(
    local: Local, ready_file: Path
) -> None:
    """What slipped past the address, the token and the short code: the pull reads M-Pesa's own
    record past it twice, does not find it, and says so everywhere an operator looks."""
    started = datetime.now(UTC) - timedelta(minutes=1)
    _, body = _c2b(True, 9100)
    now = datetime.now(UTC).astimezone(EAT)
    body |= {"TransID": "QUN0000001", "TransTime": now.strftime("%Y%m%d%H%M%S"), "FirstName": "Slipped"}
    assert local.post("/payments/c2b/confirmation/{token}", body).status_code == 200

    def shown() -> dict[str, Any] | None:
        listed = tuma_local(ready_file, "--json", "payments")
        rows = {row["receipt"]: row for row in json.loads(listed.stdout)["payments"]}
        row = rows.get("QUN0000001")
        return row if row and row["confirmation"] == "UNCONFIRMED" else None

    row = local.wait_for(shown, timeout=60, what="the payment to be marked UNCONFIRMED")
    assert row["learnt_by"] == "callback"
    story = local.get_signed("/messages/QUN0000001")
    assert story.status_code == 200 and story.json()["payment_confirmation"] == "UNCONFIRMED"
    assert local.wait_for(lambda: _metric_sum(local, "PaymentsUnconfirmed", started), what="the metric") == 1
    # The genuine payments, listed by M-Pesa's own record, are CONFIRMED.
    rows = {
        r["receipt"]: r for r in json.loads(tuma_local(ready_file, "--json", "payments").stdout)["payments"]
    }
    assert {rows[f"QGN{n:07d}"]["confirmation"] for n in range(GENUINE)} == {"CONFIRMED"}


def test_a_large_payment_waits_for_mpesas_record_and_a_contradicted_one_is_rejected(local: Local) -> None:
    # A real payment of KES 150,000: its receipt waits, visibly, then goes once the pull lists it.
    real = {
        "TransID": "QLG0000001",
        "TransAmount": "150000.00",
        "MSISDN": "254712999001",
        "BillRefNumber": "FEES-2027",
        "FirstName": "Parent",
        "callback": "deliver",
    }
    local.simulator_at("daraja_simulator_url", "/_sandbox/payments", "POST", json=real)
    waited = local.wait_for(lambda: local.ledger("QLG0000001"), what="the held receipt's entry")
    assert waited[0]["status"] in ("AWAITING_CONFIRMATION", "QUEUED", "SENT", "DELIVERED")

    def went() -> list[dict[str, Any]]:
        return [p for p in local.phones() if p["message"].startswith("QLG0000001")]

    [sms] = local.wait_for(went, timeout=60, what="the confirmed receipt")
    assert "KES 150,000.00" in sms["message"]
    # A real payment of KES 200, reported by a callback as KES 200,000: M-Pesa's record says otherwise.
    local.simulator_at(
        "daraja_simulator_url",
        "/_sandbox/payments",
        "POST",
        json=real | {"TransID": "QLG0000002", "TransAmount": "200.00", "callback": "drop"},
    )
    _, body = _c2b(True, 9200)
    now = datetime.now(UTC).astimezone(EAT).strftime("%Y%m%d%H%M%S")
    body |= {"TransID": "QLG0000002", "TransAmount": "200000.00", "TransTime": now, "MSISDN": "254712999001"}
    assert local.post("/payments/c2b/confirmation/{token}", body).status_code == 200

    def rejected() -> dict[str, Any] | None:
        entries = local.ledger("QLG0000002")
        return entries[0] if entries and entries[0]["status"] == "REJECTED" else None

    entry = local.wait_for(rejected, timeout=60, what="the contradicted receipt to be rejected")
    assert entry["reason"] == (
        "M-Pesa's own record says KES 200.00, not the KES 200,000.00 the callback said: nothing sent"
    )
    time.sleep(2)
    assert not [p for p in local.phones() if p["message"].startswith("QLG0000002")]
