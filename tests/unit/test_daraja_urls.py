"""What Daraja calls for each short code, against the stack's URLs now (tuma.services.daraja_urls)."""

from __future__ import annotations

from datetime import UTC, datetime

from tuma.models.daraja import Registration
from tuma.services.daraja_setup import CallbackUrls, Step
from tuma.services.daraja_urls import PULL_CALL, drift, reconcile

from tests.unit.fakes import MemoryStateStore

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
FIRST = CallbackUrls.at("https://abc123.execute-api.eu-west-1.amazonaws.com/v1", "t0ken-one")
SECOND = CallbackUrls.at("https://pay.example.co.ke", "t0ken-two")


def _steps(outcome: str) -> list[Step]:
    said = "Success" if outcome == "registered" else "Urls are already registered."
    return [
        Step(
            "600100",
            "Register URL v2",
            Registration(outcome, said, "0" if outcome == "registered" else "500.003.1001"),
        ),
        Step("600100", PULL_CALL, Registration(outcome, said, "1000" if outcome == "registered" else "1001")),
    ]


def test_a_registration_is_recorded_without_its_token_and_a_repeat_of_the_same_urls_is_fine() -> None:
    records = MemoryStateStore()
    reconcile(
        _steps("registered"), FIRST, "https://abc123.execute-api.eu-west-1.amazonaws.com/v1", records, NOW
    )
    assert "t0ken-one" not in repr(records.documents)
    again = reconcile(_steps("already registered"), FIRST, "https://x", records, NOW)
    assert [s.result.outcome for s in again] == ["already registered", "already registered"]
    assert all(s.result.ok and s.result.fix is None for s in again)
    assert all(d.current for d in drift(["600100"], True, FIRST, records))


def test_already_registered_with_other_urls_is_refused_with_what_to_ask_safaricom() -> None:
    """A rotated token or a new stack: Daraja keeps the first URLs, and M-Pesa posts to them."""
    records = MemoryStateStore()
    reconcile(
        _steps("registered"), FIRST, "https://abc123.execute-api.eu-west-1.amazonaws.com/v1", records, NOW
    )
    [c2b, pull] = reconcile(_steps("already registered"), SECOND, "https://pay.example.co.ke", records, NOW)
    assert (c2b.result.outcome, pull.result.outcome) == ("refused", "refused")
    fix = c2b.result.fix or ""
    assert (
        "short code 600100 (at https://abc123.execute-api.eu-west-1.amazonaws.com/v1, on 2026-12-07)" in fix
    )
    assert "apisupport@safaricom.co.ke" in fix and "C2B confirmation and validation URLs" in fix
    assert "Pull callback URL" in (pull.result.fix or "")
    assert [d.current for d in drift(["600100"], True, SECOND, records)] == [False, False]


def test_already_registered_without_a_record_is_kept_with_what_to_do_if_callbacks_do_not_come() -> None:
    records = MemoryStateStore()
    [c2b, _] = reconcile(_steps("already registered"), SECOND, "https://pay.example.co.ke", records, NOW)
    assert c2b.result.ok and "not known to be these URLs" in (c2b.result.fix or "")
    assert [d.recorded for d in drift(["600100"], False, SECOND, records)] == [None]
