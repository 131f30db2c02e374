"""Intake against in-memory ports: every business event becomes a queued message or a recorded reason."""

from __future__ import annotations

from typing import Any

from tuma.models.alerts import AlertRequest
from tuma.models.ledger import Status
from tuma.models.mpesa import C2BValidation, StkResult
from tuma.models.payments import Payment
from tuma.services.intake import Intake

from tests.unit.fakes import MemoryDirectory, MemoryLedger, MemoryOutbox


def _intake(
    directory: MemoryDirectory | None = None, account_check: bool = False
) -> tuple[Intake, MemoryOutbox, MemoryLedger]:
    outbox, ledger = MemoryOutbox(), MemoryLedger()
    return Intake(outbox, ledger, directory, language="sw", account_check=account_check), outbox, ledger


def _payment(**fields: Any) -> Payment:
    base = {"reference": "QKX1AB2CD3", "amount": "1500", "phone": "0712345678", "source": "c2b"}
    return Payment.model_validate(base | fields)


def test_a_payment_with_a_plain_number_queues_one_receipt_keyed_by_its_reference() -> None:
    intake, outbox, ledger = _intake()
    outcome = intake.receipt(_payment(name="Achieng", account="A-7"))
    assert outcome.queued and outcome.answer() == {"status": "queued", "idempotency_key": "QKX1AB2CD3"}
    [message] = outbox.messages
    assert message.idempotency_key == "QKX1AB2CD3" and message.to == ("254712345678",)
    assert message.template == "receipt" and message.language == "sw"
    assert message.data == {
        "reference": "QKX1AB2CD3",
        "amount": "1500",
        "currency": "KES",
        "name": "Achieng",
        "account": "A-7",
    }
    assert ledger.entries == {}  # the sender records it once it is sent


def test_a_masked_number_is_resolved_through_the_directory_or_recorded_undeliverable() -> None:
    intake, outbox, ledger = _intake(MemoryDirectory({"A-7": "0722000126"}))
    assert intake.receipt(_payment(phone="2547 ***** 126", account="A-7")).queued
    assert outbox.messages[0].to == ("254722000126",)

    outcome = intake.receipt(_payment(reference="QKX9", phone="2547 ***** 126", account="B-9"))
    assert not outcome.queued
    assert outcome.reason == "M-Pesa masked the payer's number, and no customer record matches the account"
    [entry] = ledger.get("QKX9")
    assert entry.status is Status.UNDELIVERABLE and entry.recipient == "2547 ***** 126"
    assert entry.reason == outcome.reason and entry.source == "c2b"


def test_receipts_report_which_payments_the_queue_did_not_take() -> None:
    intake, outbox, _ = _intake()
    outbox.fail_at = {1}
    payments = [_payment(reference=f"R{i}") for i in range(3)] + [_payment(reference="R3", phone=None)]
    outcomes = intake.receipts(payments)
    assert [o is not None and o.queued for o in outcomes] == [True, False, True, False]
    assert outcomes[1] is None  # not queued: the stream must retry it
    assert outcomes[3] is not None and outcomes[3].reason is not None  # no phone: recorded, not retried
    assert [m.idempotency_key for m in outbox.messages] == ["R0", "R2"]


def test_a_cancelled_stk_payment_is_recorded_rejected_and_sends_nothing() -> None:
    intake, outbox, ledger = _intake()
    result = StkResult.model_validate(
        {"CheckoutRequestID": "ws_CO_1", "ResultCode": 1032, "ResultDesc": "Request cancelled by user"}
    )
    outcome = intake.stk_result(result)
    assert not outcome.queued and outbox.messages == []
    [entry] = ledger.get("stk:ws_CO_1")
    assert entry.status is Status.REJECTED
    assert entry.reason == "payment not completed: 1032 Request cancelled by user"


def test_a_successful_stk_payment_without_its_receipt_number_is_rejected_with_the_field_named() -> None:
    intake, outbox, ledger = _intake()
    result = StkResult.model_validate(
        {
            "CheckoutRequestID": "ws_CO_2",
            "ResultCode": 0,
            "CallbackMetadata": {"Item": [{"Name": "Amount", "Value": 10}]},
        }
    )
    outcome = intake.stk_result(result)
    assert not outcome.queued and outbox.messages == []
    assert ledger.get("stk:ws_CO_2")[0].reason == (
        "STK callback metadata lacks a usable MpesaReceiptNumber: required"
    )


def test_c2b_validation_accepts_everything_unless_the_account_check_is_on() -> None:
    open_intake, _, _ = _intake()
    assert open_intake.c2b_validation(C2BValidation(BillRefNumber="anything"))["ResultCode"] == "0"
    checking, _, _ = _intake(MemoryDirectory({"A-7": "0722000126"}), account_check=True)
    assert checking.c2b_validation(C2BValidation(BillRefNumber="A-7"))["ResultCode"] == "0"
    assert checking.c2b_validation(C2BValidation(BillRefNumber="B-9"))["ResultCode"] == "C2B00012"
    assert checking.c2b_validation(C2BValidation())["ResultCode"] == "C2B00012"


def test_an_alert_is_queued_under_its_own_key() -> None:
    intake, outbox, _ = _intake()
    outcome = intake.alert(AlertRequest(id="db-1-disk", title="Disk full", host="db-1"))
    assert outcome.idempotency_key == "alert:db-1-disk" and outcome.queued
    assert outbox.messages[0].data == {"title": "Disk full", "host": "db-1"}


def test_every_source_of_a_payment_is_recorded_with_the_best_number_it_gave() -> None:
    from tuma.formatting.phones import hash_msisdn

    intake, _, ledger = _intake(MemoryDirectory({"A-7": "0722000126"}))
    intake.receipt(_payment(phone="2547 ***** 126", account="A-7", source="c2b"))
    assert ledger.payments["QKX1AB2CD3"]["payer"] == "254722000126"  # from the directory (rank 1)
    intake.receipt(_payment(phone=hash_msisdn("254712345678"), source="payments-table"))
    intake.receipt(_payment(reference=" qkx1ab2cd3 ", phone="0712345678", source="stk"))
    intake.receipt(_payment(phone=hash_msisdn("254799999999"), source="payments-api"))  # not better
    record = ledger.payments["QKX1AB2CD3"]
    assert record["sources"] == {"c2b", "payments-table", "stk", "payments-api"}
    assert (record["payer"], record["payer_rank"]) == ("254712345678", 3)


def test_an_operator_finds_a_payment_by_receipt_number_as_typed_or_a_cancelled_stk_by_its_checkout_id() -> (
    None
):
    from tuma.services.lookup import keys_for

    assert keys_for(" nlj7rt61sv ") == ["nlj7rt61sv", "NLJ7RT61SV", "stk:nlj7rt61sv"]
    assert keys_for("ws_CO_1")[-1] == "stk:ws_CO_1"
    assert keys_for("   ") == []


def test_a_daraja_payment_to_a_short_code_that_is_not_the_businesss_is_rejected_with_the_reason() -> None:
    outbox, ledger = MemoryOutbox(), MemoryLedger()
    intake = Intake(outbox, ledger, short_codes=frozenset({"600000", "174379"}))
    assert intake.receipt(_payment(short_code="600000")).queued
    refused = intake.receipt(_payment(reference="QKX1AB2CD4", short_code="999999"))
    assert refused.fate.value == "PaymentsRejected"
    [entry] = ledger.get("QKX1AB2CD4")
    assert entry.status is Status.REJECTED
    assert (
        entry.reason
        == "paid to short code 999999, which is not one of the business's (174379, 600000: BusinessShortCodes)"
    )
    # Kept, so that no later report counts it new, but not as a payment finance lists.
    assert ledger.payments["QKX1AB2CD4"]["kind"] == "refused-payment"
    # A C2B naming none is refused too; an STK result names none by nature; the business's own
    # systems (signed) are not Daraja.
    assert not intake.receipt(_payment(reference="QKX1AB2CD5")).queued
    assert intake.receipt(_payment(reference="QKX1AB2CD6", source="stk")).queued
    assert intake.receipt(_payment(reference="QKX1AB2CD7", source="payments-api", short_code="1")).queued
    assert [m.idempotency_key for m in outbox.messages] == ["QKX1AB2CD3", "QKX1AB2CD6", "QKX1AB2CD7"]
    validation = C2BValidation.model_validate({"BusinessShortCode": "999999", "BillRefNumber": "A-1"})
    assert intake.c2b_validation(validation) == {"ResultCode": "C2B00015", "ResultDesc": "Rejected"}
    mine = C2BValidation.model_validate({"BusinessShortCode": "600000", "BillRefNumber": "A-1"})
    assert intake.c2b_validation(mine) == {"ResultCode": "0", "ResultDesc": "Accepted"}
