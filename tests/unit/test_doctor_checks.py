"""What `tuma doctor` reads of the ledger's payment records, without a stack."""

from __future__ import annotations

from tuma_cli.doctor_checks import _skew


def test_the_skew_is_the_pulls_time_less_the_callbacks_whichever_came_first() -> None:
    both = {"called_back_at": "2026-12-07T07:13:00+00:00", "pulled_at": "2026-12-07T04:13:00+00:00"}
    assert _skew(both | {"first_source": "c2b"}) == -3 * 3600
    assert _skew(both | {"first_source": "pull"}) == -3 * 3600  # the pull beat the callback
    assert _skew({"pulled_at": both["pulled_at"]}) is None  # no callback: nothing to compare
    assert _skew(both | {"pulled_at": "yesterday"}) is None


class _Parameters:
    """What https_check reads of a stack: its template parameters."""

    def __init__(self, **parameters: str) -> None:
        self.parameters = parameters


def test_a_stack_with_a_plain_http_url_fails_the_https_check() -> None:
    from typing import Any, cast

    from tuma_cli.doctor_checks import https_check

    old = cast("Any", _Parameters(ProviderBaseUrl="http://quicksms.advantasms.com", StatusCallbackUrl=""))
    check = https_check(old)
    assert (
        not check.ok
        and "ProviderBaseUrl" in check.detail
        and check.fix == "deploy with ProviderBaseUrl=https://…"
    )
    local = cast(
        "Any",
        _Parameters(ProviderBaseUrl="http://127.0.0.1:4010", DarajaBaseUrl="https://api.safaricom.co.ke"),
    )
    assert https_check(local).ok


def test_nobody_hearing_the_alarms_fails_the_doctor() -> None:
    from typing import Any, cast

    from tuma_cli.doctor_checks import alarm_recipients_check

    nobody = alarm_recipients_check(cast("Any", _Parameters(AlertRecipients="", AlarmEmail="")))
    assert not nobody.ok and "AlertRecipients=" in (nobody.fix or "")
    mail_only = alarm_recipients_check(
        cast("Any", _Parameters(AlertRecipients="", AlarmEmail="ops@example.co.ke"))
    )
    assert mail_only.ok and mail_only.warning
    both = alarm_recipients_check(
        cast("Any", _Parameters(AlertRecipients="0722000111, 0733000222", AlarmEmail="x@y.ke"))
    )
    assert both.ok and not both.warning and both.detail == "2 number(s) by SMS, and e-mail"


def test_the_test_alarm_is_proven_by_its_delivery_report_and_said_plainly_without_one() -> None:
    from datetime import UTC, datetime, timedelta

    from tuma.models.ledger import LedgerEntry, Status

    from tuma_cli.doctor_checks import alarm_verdict

    started = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)

    def entry(status: Status) -> LedgerEntry:
        return LedgerEntry(
            "alarm:x", "n:1", "2547*****111", status, updated_at=started + timedelta(seconds=4)
        )

    delivered = alarm_verdict("tuma-AlarmDeliveryTest", entry(Status.DELIVERED), started, 60)
    assert delivered.ok and not delivered.warning and "in 4 s (DELIVERED to 2547*****111)" in delivered.detail
    sent = alarm_verdict("tuma-AlarmDeliveryTest", entry(Status.SENT), started, 60)
    assert sent.ok and sent.warning and "not proven that the phone got it" in sent.detail
    assert not alarm_verdict("tuma-AlarmDeliveryTest", entry(Status.FAILED), started, 60).ok
    assert not alarm_verdict("tuma-AlarmDeliveryTest", None, started, 60).ok
