"""`tuma doctor --test-sms NUMBER`: one real SMS to the operator's own phone, to prove the sender ID.

The provider check (the balance monitor's credit query) sends only the apikey and partnerID, so a
misspelt sender ID passes it; only a message that the provider accepts and the phone receives
proves it. The test SMS goes through the stack's own outbox, sender and provider, as a receipt
would, and its ledger entry says what happened: DELIVERED proves the sender ID, the provider's
refusal for a configuration reason (1001 invalid sender id, 1006 invalid credentials...) is a ✗
with its fix, SENT
without a report within --wait is a !.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from tuma_cli import stack
from tuma_cli.doctor_checks import FINAL_STATUSES, Check, sms_verdict

SENDER_ID_REFUSED = 1001  # tuma.models.provider_codes: invalid sender id

# The fix for a provider's configuration refusal; what each code means is tuma.models.provider_codes'.
SENDER_ID_FIX = (
    "put the sender ID in the provider secret's shortcode exactly as the provider assigned it "
    "(case-sensitive), and check it is registered for transactional messages"
)
OTHER_FIX = (
    "the provider refused the stack's configuration: check the provider secret (apikey, partnerID, shortcode) "
    "and that ProviderEgressIp is allowlisted in the provider's portal"
)


def test_sms_check(found: stack.Stack, number: str, wait: float) -> Check:
    from tuma.adapters.dynamodb_ledger_views import LedgerViews
    from tuma.formatting.phones import InvalidNumber, parse_recipient
    from tuma.models.outbox import OutboxMessage
    from tuma.models.sources import OwnSource

    try:
        to = parse_recipient(number).value
    except InvalidNumber as exc:
        return Check("sender ID", False, f"--test-sms: {exc.reason}", "give your own phone's number")
    sender_id = str(found.secret("credentials").get("shortcode", ""))
    key = f"doctor:test-sms:{datetime.now(UTC):%Y%m%dT%H%M%S}"
    text = f"Tuma test from {found.stack_name}: SMS from {sender_id} reach you. No reply needed."
    message = OutboxMessage(idempotency_key=key, to=(to,), text=text, source=OwnSource.DOCTOR)
    found.client("sqs").send_message(QueueUrl=_outbox(found), MessageBody=message.to_json())
    ledger = LedgerViews(found.client("dynamodb"), found.table("ledger"))
    deadline = time.monotonic() + wait
    entry: Any = None
    while time.monotonic() < deadline and not _settled(entry):
        time.sleep(2)
        entry = next(iter(ledger.get(key)), None)
    return test_sms_verdict(sender_id, entry, wait)


def test_sms_verdict(sender_id: str, entry: Any, wait: float) -> Check:
    """What the test SMS's entry proves of the sender ID: DELIVERED proves it; a refusal says why."""
    if entry is None:
        return Check(
            "sender ID",
            False,
            f"the test SMS did not reach the sender in {wait:.0f} s",
            "see dead letters and the sender's log; run again with a longer --wait",
        )
    code = _refusal(entry)
    if code is not None:
        from tuma.models.provider_codes import meaning

        fix = SENDER_ID_FIX if code == SENDER_ID_REFUSED else OTHER_FIX
        return Check(
            "sender ID",
            False,
            f"{sender_id!r}: the provider answered {code}, {meaning(code).description}",
            fix,
        )
    return sms_verdict("sender ID", f"{sender_id!r} sent the test SMS", entry, wait)


def _settled(entry: Any) -> bool:
    """Final, or refused for a reason that waiting will not mend (the sender retries those)."""
    return entry is not None and (entry.status.value in FINAL_STATUSES or _refusal(entry) is not None)


def _refusal(entry: Any) -> int | None:
    """The provider's code when it refused for a configuration reason (the sender retries those)."""
    from tuma.models.provider_codes import Disposition, classify

    code: int | None = entry.provider_code
    configuration = classify(code) in (Disposition.CONFIG, Disposition.CREDENTIALS)
    return code if code is not None and configuration else None


def _outbox(found: stack.Stack) -> str:
    url = found.queue_url("OutboxQueue", "OutboxQueueUrl")
    if not url:
        raise stack.Unconfigured("the stack has no OutboxQueueUrl output")
    return url
