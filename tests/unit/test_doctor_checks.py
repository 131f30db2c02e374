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
