"""One-time codes kept masked, and the pieces of access and erasure that need no table."""

from __future__ import annotations

import json

import pytest
from tuma.formatting.phones import hash_msisdn
from tuma.models.kinds import KINDS
from tuma.models.personal import Subject
from tuma.security.masking import mask_codes
from tuma.services.send_path.batch import Inbound
from tuma.services.send_path.pipeline import Dispatcher
from tuma.services.status_events import event_from_change
from tuma.services.templates import validate

from tests.unit.fakes import FakeSender, ListMetrics, MemoryClaims, MemoryLedger


@pytest.mark.parametrize(
    ("text", "codes", "kept"),
    [
        ("Your code is 482913", (), "Your code is ******"),
        ("Code 48-29-13, valid 10 minutes", (), "Code **-**-**, valid 10 minutes"),
        ("PIN 482 913 for ACME", (), "PIN *** *** for ACME"),
        ("Your code is 73. Valid 5 min", ("73",), "Your code is **. Valid 5 min"),
        ("Use AB12CD to log in", ("AB12CD",), "Use ****** to log in"),
    ],
)
def test_codes_are_starred_out_whatever_their_shape(text: str, codes: tuple[str, ...], kept: str) -> None:
    assert mask_codes(text, codes) == kept


def _dispatch(*bodies: dict[str, object]) -> tuple[FakeSender, MemoryLedger]:
    sender, ledger = FakeSender(), MemoryLedger()
    Dispatcher(sender, ledger, MemoryClaims(), ListMetrics()).dispatch(
        [Inbound(f"r{i}", json.dumps(body)) for i, body in enumerate(bodies)]
    )
    return sender, ledger


def test_a_code_goes_whole_to_the_phone_and_is_kept_masked_in_the_ledger() -> None:
    sender, ledger = _dispatch(
        {"idempotency_key": "otp-1", "to": ["0712345678"], "text": "Your code is 482913", "route": "otp"},
        {"idempotency_key": "code-1", "to": ["0712345679"], "template": "code", "data": {"code": "73"}},
        {"idempotency_key": "plain-1", "to": ["0712345670"], "text": "Order 48291 is ready"},
    )
    sent = {mobile: text for mobile, text, _ in sender.otp_calls} | dict(sender.sent)
    assert sent["254712345678"] == "Your code is 482913"
    assert sent["254712345679"].startswith("73 is your code")
    kept = {e.idempotency_key: e.text for e in ledger.entries.values()}
    assert kept["otp-1"] == "Your code is ******"
    assert (
        kept["code-1"] is not None
        and kept["code-1"].startswith("** is your code")
        and "73" not in kept["code-1"]
    )
    assert kept["plain-1"] == "Order 48291 is ready"  # not a code: kept as sent


def test_the_code_kind_must_show_its_code_and_fits_one_part_at_its_longest() -> None:
    assert KINDS["code"].secret and KINDS["code"].category == "transactional"
    refused = validate("code", "Your login code has been sent", max_parts=1)
    assert not refused.ok and "code" in refused.reasons[0]
    packaged = validate(
        "code", "{{ code }} is your code. It expires in {{ minutes or 10 }} minutes.", max_parts=1
    )
    assert packaged.ok, packaged.reasons


def test_a_person_is_recognised_in_every_form_of_their_number_and_no_other() -> None:
    digest = hash_msisdn("254712345678")[:24]
    subject = Subject(digest, "2547*****678", "k")
    assert subject.refs == ("k:k", "kh:k", f"n:{digest}", f"h:{digest}")  # keyed, then from before 0.3.0
    for same in ("0712345678", "+254 712 345 678", "254712345678", 254712345678, hash_msisdn("254712345678")):
        assert subject.matches(same), same
    for other in ("0712345679", "2547*****678", "ADM-12", "", None, True, 12, "0712345678" * 8):
        assert not subject.matches(other), other


def test_an_erased_entry_is_no_status_event() -> None:
    before = {"idempotency_key": "K", "recipient_ref": "n:abc", "recipient": "2547*****678", "status": "SENT"}
    after = before | {
        "recipient_ref": "x:def",
        "recipient": "erased",
        "erased_at": "2026-12-02T10:00:00+00:00",
    }
    assert event_from_change(None, before) is not None
    assert event_from_change(None, after) is None
