"""One table says what each provider code means (tuma.models.provider_codes); every reader follows it, so a
change to a code's row is a change to all of them at once."""

from __future__ import annotations

import json

import pytest
from tuma.models.provider_codes import CODES, NO_CODE, Disposition, meaning
from tuma.models.sending import SendResult
from tuma.provider.failover import _soon, provider_down
from tuma.services.send_path.batch import Inbound, RetryDelays
from tuma.services.send_path.pipeline import Dispatcher

from tests.unit.fakes import FakeSender, ListMetrics, MemoryClaims, MemoryLedger

FAILED = [code for code, m in CODES.items() if m.disposition is not Disposition.SUCCESS]


@pytest.mark.parametrize("code", [*FAILED, 9999])
def test_the_breaker_counts_a_code_as_an_outage_exactly_when_the_table_says(code: int) -> None:
    found = meaning(code)
    result = SendResult(found.disposition, found.description, code, provider="primary")
    assert provider_down(result) is found.outage
    assert (_soon(result).disposition is Disposition.RETRY) is (
        found.own_wait or found.disposition is Disposition.RETRY
    )


def test_no_code_at_all_is_a_retried_outage_and_an_unknown_code_too() -> None:
    assert provider_down(SendResult(Disposition.RETRY, "read timeout")) is True
    assert provider_down(SendResult(Disposition.CONFIG, "refused before any call")) is False
    assert meaning(None) is NO_CODE and meaning(9999).disposition is NO_CODE.disposition


@pytest.mark.parametrize(
    "code", [c for c in FAILED if CODES[c].disposition not in (Disposition.REJECT, Disposition.SPLIT)]
)
def test_the_dispatcher_waits_and_alarms_as_the_table_says(code: int) -> None:
    found = meaning(code)
    metrics = ListMetrics()
    sender = FakeSender(lambda mobile, text: SendResult(found.disposition, found.description, code))
    outcomes = Dispatcher(sender, MemoryLedger(), MemoryClaims(), metrics).dispatch(
        [Inbound("r1", json.dumps({"idempotency_key": "k", "to": ["0712345678"], "text": "hi"}))]
    )
    [outcome] = outcomes
    assert outcome.retry and outcome.delay_seconds == RetryDelays().for_result(found.disposition, 1)
    alarms = {name for name in ("ProviderConfigurationErrors", "LowCredit") if metrics.counts.get(name)}
    assert alarms == ({found.alarm} if found.alarm else set())


def test_getdlr_reads_every_not_yet_code_as_no_report_yet() -> None:
    assert {code for code, m in CODES.items() if m.no_report_yet} == {1008, 1009}
