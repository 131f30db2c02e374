"""The people Tuma texts, against in-memory ports: categories, the suppression list, consent, the window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tuma.formatting.clock import EAT
from tuma.formatting.phones import hash_msisdn, parse_recipient
from tuma.models.http import HttpAnswer, HttpFailure
from tuma.models.ledger import DeliveryUpdate, DueCheck, ReportOutcome, Status
from tuma.models.privacy import DEFAULT_FOOTER, MessageCategory, Scope, SendWindow, SuppressionSource
from tuma.models.provider_answers import DeliveryReport
from tuma.models.provider_codes import Disposition
from tuma.models.provider_credentials import Credentials, StaticCredentials
from tuma.models.sending import BulkMessage
from tuma.provider.client import ProviderClient, RetryPolicy
from tuma.security.number_keys import NumberKeys, use
from tuma.services.delivery_reports import outcome_of
from tuma.services.privacy import InvalidEntry, Privacy
from tuma.services.reconciler import Reconciler
from tuma.services.send_path.batch import Inbound, RecordOutcome
from tuma.services.send_path.pipeline import Dispatcher
from tuma.services.templates import validate

from tests.unit.fakes import (
    FakeSender,
    ListMetrics,
    MemoryAgenda,
    MemoryClaims,
    MemoryLedger,
    MemoryOutbox,
    MemoryPrivacyStore,
    ScriptedHttp,
    reply,
)

# 10:00 East Africa Time: inside the default window.
MORNING = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
KEY = b"k" * 48


def keys() -> NumberKeys:
    """The stack's keys, which also name numbers in its ledger (as wiring installs them)."""
    return use(NumberKeys(lambda: KEY))


class Rig:
    def __init__(self, *, require_consent: bool = True, now: datetime = MORNING) -> None:
        self.now = now
        self.sender = FakeSender()
        self.ledger = MemoryLedger()
        self.claims = MemoryClaims()
        self.metrics = ListMetrics()
        self.agenda = MemoryAgenda()
        self.store = MemoryPrivacyStore()
        self.privacy = Privacy(self.store, keys(), require_consent=require_consent, clock=lambda: self.now)
        self.dispatcher = Dispatcher(
            self.sender,
            self.ledger,
            self.claims,
            self.metrics,
            agenda=self.agenda,
            clock=lambda: self.now,
            privacy=self.privacy,
            window=SendWindow("08:00-18:00"),
            alert_recipients=("0722000111",),
        )

    def run(self, *bodies: dict[str, Any]) -> list[RecordOutcome]:
        return self.dispatcher.dispatch([Inbound(f"r{i}", json.dumps(b)) for i, b in enumerate(bodies)])

    def statuses(self, key: str) -> dict[str, tuple[str, str | None]]:
        return {e.recipient: (e.status.value, e.reason) for e in self.ledger.get(key)}


def promotion(key: str, *to: str, **extra: Any) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "to": list(to),
        "template": "promotion",
        "data": {"offer": "20% off school uniforms", "until": "Friday"},
        **extra,
    }


def receipt(key: str, to: str) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "to": [to],
        "template": "receipt",
        "data": {"reference": key, "amount": "100", "currency": "KES"},
    }


# -- the keyed hash ------------------------------------------------------------------------------


def test_every_form_of_a_number_and_safaricoms_hash_of_it_have_one_keyed_hash() -> None:
    forms = ["0712345678", "+254 712 345 678", "254712345678", "712345678", hash_msisdn("254712345678")]
    hashes = {keys().of_ref(parse_recipient(f).ref) for f in forms}
    assert len(hashes) == 1
    [found] = hashes
    assert "712345678" not in found and found != hash_msisdn("254712345678")
    # Another stack's key gives another hash: the list means nothing without the key.
    assert NumberKeys(lambda: b"x" * 48).of_recipient(parse_recipient(forms[0])) != found
    # The ledger's ref is the keyed hash itself; the unkeyed digest from before 0.3.0 keys the same.
    number = parse_recipient(forms[0])
    assert number.ref == f"k:{found}" and parse_recipient(forms[-1]).ref == f"kh:{found}"
    assert keys().of_ref(str(number.legacy_ref)) == found


def test_a_masked_number_has_no_keyed_hash() -> None:
    with pytest.raises(ValueError, match="sendable"):
        keys().of_ref(parse_recipient("2547****678").ref)
    privacy = Privacy(MemoryPrivacyStore(), keys())
    with pytest.raises(InvalidEntry) as masked:
        privacy.person("2547****678")
    assert masked.value.field == "number" and "masked" in masked.value.reason
    with pytest.raises(InvalidEntry, match="digits"):
        privacy.person("07a2345678")


# -- the window ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "opening"),
    [
        ("2026-12-01T07:59", "2026-12-01T08:00"),
        ("2026-12-01T08:00", None),
        ("2026-12-01T17:59", None),
        ("2026-12-01T18:00", "2026-12-02T08:00"),
        ("2026-12-01T23:30", "2026-12-02T08:00"),
        ("2026-12-31T19:00", "2027-01-01T08:00"),
    ],
)
def test_the_window_opens_at_eight_and_closes_at_six_east_africa_time(
    local: str, opening: str | None
) -> None:
    moment = datetime.fromisoformat(local).replace(tzinfo=EAT)
    found = SendWindow().next_opening(moment.astimezone(UTC))
    assert found == (None if opening is None else datetime.fromisoformat(opening).replace(tzinfo=EAT))


def test_a_window_to_midnight_is_open_until_the_day_ends() -> None:
    always = SendWindow("00:00-24:00")
    for local in ("00:00", "12:00", "23:59:59"):
        moment = datetime.fromisoformat(f"2026-12-01T{local}").replace(tzinfo=EAT)
        assert always.next_opening(moment) is None
    assert always.spec == "00:00-24:00"


@pytest.mark.parametrize("spec", ["18:00-08:00", "8-18", "08:00", "25:00-26:00", "8:00-18:00", "24:00-24:00"])
def test_a_window_that_cannot_be_read_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="window"):
        SendWindow(spec)


# -- the sender's screen -------------------------------------------------------------------------


def test_a_promotion_to_five_numbers_one_suppressed_one_without_consent() -> None:
    rig = Rig()
    numbers = ["0711000001", "0711000002", "0711000003", "0711000004", "0711000005"]
    for number in numbers[:4]:
        rig.privacy.consent(rig.privacy.person(number), "shop counter", "Offers by SMS from ACME")
    rig.privacy.suppress(
        rig.privacy.person(numbers[3]), Scope.PROMOTIONAL, "replied STOP", SuppressionSource.API
    )
    rig.run(promotion("promo-1", *numbers))

    statuses = rig.statuses("promo-1")
    assert [s for s, _ in statuses.values()].count("SENT") == 3
    assert statuses["2547*****004"][0] == "SUPPRESSED" and "replied STOP" in (
        statuses["2547*****004"][1] or ""
    )
    assert statuses["2547*****005"] == (
        "REJECTED",
        "no consent to promotional messages is on record (tuma consent add)",
    )
    [call] = rig.sender.bulk_calls
    assert [m.mobile for m in call] == ["254711000001", "254711000002", "254711000003"]
    assert all(m.promotional and m.message.endswith(" " + DEFAULT_FOOTER) for m in call)
    assert {e.parts for e in rig.ledger.get("promo-1") if e.status is Status.SENT} == {1}
    # One batched read for the whole batch; suppressed and refused numbers are final: never retried.
    assert rig.store.batch_reads == 1
    assert rig.metrics.counts["MessagesSuppressed"] == 1
    rig.run(promotion("promo-1", *numbers))
    assert len(rig.sender.bulk_calls) == 1


def test_a_number_suppressed_for_promotions_still_gets_its_receipts_and_one_suppressed_for_all_does_not() -> (
    None
):
    rig = Rig()
    rig.privacy.suppress(
        rig.privacy.person("0711000001"), Scope.PROMOTIONAL, "blacklisted", SuppressionSource.DELIVERY_REPORT
    )
    rig.privacy.suppress(
        rig.privacy.person("0711000002"), Scope.ALL, "asked to stop everything", SuppressionSource.OPERATOR
    )
    rig.run(receipt("QK1", "0711000001"), receipt("QK2", "0711000002"))
    assert rig.statuses("QK1") == {"2547*****001": ("SENT", None)}
    [(status, reason)] = rig.statuses("QK2").values()
    assert status == "SUPPRESSED" and reason is not None and "every message" in reason
    assert rig.sender.sent == [("254711000001", rig.sender.sent[0][1])]
    assert rig.metrics.counts.get("SmsParts") == 1  # a suppressed number costs nothing


def test_without_required_consent_a_promotion_goes_to_every_number_not_suppressed() -> None:
    rig = Rig(require_consent=False)
    rig.run(promotion("promo-2", "0711000001"))
    assert rig.statuses("promo-2") == {"2547*****001": ("SENT", None)}


def test_a_promotion_outside_the_window_is_scheduled_for_its_next_opening() -> None:
    evening = datetime(2026, 12, 1, 19, 30, tzinfo=EAT)
    rig = Rig(now=evening.astimezone(UTC), require_consent=False)
    rig.run(promotion("promo-3", "0711000001"))
    [held] = rig.agenda.held.values()
    assert held.due_at == datetime(2026, 12, 2, 8, 0, tzinfo=EAT)
    assert [e.status for e in rig.agenda.entries] == [Status.SCHEDULED]
    assert rig.sender.sent == []
    # A receipt at the same moment is not held, nor is an alert.
    rig.run(
        receipt("QK9", "0711000009"), {"idempotency_key": "a-1", "template": "alert", "data": {"title": "x"}}
    )
    assert len(rig.sender.sent) == 2


def test_a_promotion_asked_for_later_inside_the_window_keeps_its_time() -> None:
    rig = Rig(require_consent=False)
    later = datetime(2026, 12, 1, 14, 0, tzinfo=EAT)
    rig.run(promotion("promo-4", "0711000001", send_at=later.isoformat()))
    [held] = rig.agenda.held.values()
    assert held.due_at == later


def test_what_cannot_be_promotional_is_refused_with_its_reason() -> None:
    rig = Rig(require_consent=False)
    rig.run(
        {"idempotency_key": "a-2", "template": "alert", "data": {"title": "Disk"}, "category": "promotional"},
        promotion("promo-5", hash_msisdn("254711000001")),
        {
            "idempotency_key": "otp-1",
            "to": ["0711000001"],
            "text": "Win!",
            "route": "otp",
            "category": "promotional",
        },
        {**promotion("promo-6", "0711000001"), "category": "transactional"},
    )
    reasons = {e.idempotency_key: e.reason or "" for e in rig.ledger.entries.values()}
    assert "alerts to the business's own people are transactional" in reasons["a-2"]
    assert "hashed number can receive only transactional" in reasons["promo-5"]
    assert "OTP route" in reasons["otp-1"]
    assert "promotion template is promotional" in reasons["promo-6"]
    assert rig.sender.sent == []


def test_a_text_marked_promotional_gets_the_footer_and_a_text_otherwise_is_transactional() -> None:
    rig = Rig(require_consent=False)
    rig.run(
        {"idempotency_key": "t-1", "to": ["0711000001"], "text": "Sale today", "category": "promotional"},
        {"idempotency_key": "t-2", "to": ["0711000002"], "text": "Your order is ready"},
    )
    sent = {m.mobile: m for call in rig.sender.bulk_calls for m in call}
    assert sent["254711000001"].message == f"Sale today {DEFAULT_FOOTER}" and sent["254711000001"].promotional
    assert sent["254711000002"].message == "Your order is ready" and not sent["254711000002"].promotional


def test_without_a_privacy_table_promotions_are_refused_and_the_rest_goes() -> None:
    sender = FakeSender()
    ledger = MemoryLedger()
    dispatcher = Dispatcher(sender, ledger, MemoryClaims(), ListMetrics(), clock=lambda: MORNING)
    dispatcher.dispatch(
        [
            Inbound("a", json.dumps(promotion("promo-7", "0711000001"))),
            Inbound("b", json.dumps(receipt("QK7", "0711000002"))),
        ]
    )
    assert {e.idempotency_key: e.status for e in ledger.entries.values()} == {
        "promo-7": Status.REJECTED,
        "QK7": Status.SENT,
    }


# -- the provider: two sender IDs --------------------------------------------------------------


def _provider(credentials: Credentials) -> tuple[ProviderClient, list[dict[str, Any]]]:
    bodies: list[dict[str, Any]] = []

    def answer(url: str, content: bytes) -> HttpAnswer | HttpFailure:
        body = json.loads(content)
        bodies.append(body)
        return reply(
            {
                "responses": [
                    {
                        "response-code": 200,
                        "response-description": "Success",
                        "mobile": m["mobile"],
                        "messageid": 7000 + int(m["clientsmsid"]),
                        "clientsmsid": m["clientsmsid"],
                    }
                    for m in body["smslist"]
                ]
            }
        )

    client = ProviderClient(
        "http://provider.test",
        StaticCredentials(credentials),
        ScriptedHttp(answer),
        retry=RetryPolicy(attempts=1, base_delay=0.0),
        sleep=lambda _: None,
    )
    return client, bodies


def test_a_promotion_goes_under_the_promotional_sender_id_and_a_receipt_under_the_other() -> None:
    client, bodies = _provider(
        Credentials(apikey="k" * 20, partner_id="1", shortcode="ACME", promotional_shortcode="ACMEINFO")
    )
    results = client.send_bulk(
        [
            BulkMessage("1", "254711000001", "receipt"),
            BulkMessage("2", "254711000002", "sale", promotional=True),
        ]
    )
    assert all(r.accepted for r in results.values())
    assert [m["shortcode"] for m in bodies[0]["smslist"]] == ["ACME", "ACMEINFO"]


def test_without_a_promotional_sender_id_a_promotion_is_rejected_and_never_sent_under_the_other() -> None:
    client, bodies = _provider(Credentials(apikey="k" * 20, partner_id="1", shortcode="ACME"))
    results = client.send_bulk(
        [
            BulkMessage("1", "254711000001", "receipt"),
            BulkMessage("2", "254711000002", "sale", promotional=True),
        ]
    )
    assert results["1"].accepted
    assert results["2"].disposition is Disposition.REJECT
    assert "promotional_shortcode" in results["2"].description
    assert [m["mobile"] for b in bodies for m in b["smslist"]] == ["254711000001"]


def test_one_sender_id_may_not_carry_both_kinds() -> None:
    with pytest.raises(ValueError, match="different sender ID"):
        Credentials(apikey="k" * 20, partner_id="1", shortcode="ACME", promotional_shortcode="ACME")


# -- opt-outs the network reports ----------------------------------------------------------------


def test_only_the_blacklisted_report_means_the_number_opted_out() -> None:
    assert outcome_of("SenderName Blacklisted").opted_out
    assert not any(
        outcome_of(d).opted_out
        for d in ("DeliveredToTerminal", "AbsentSubscriber", "DeliveryImpossible", "Unknown", "Rejected")
    )


def test_a_polled_blacklisted_report_suppresses_the_number_for_promotions_once() -> None:
    rig = Rig(require_consent=False)
    rig.run(promotion("promo-8", "0711000001"))
    [entry] = rig.ledger.get("promo-8")
    assert entry.provider_message_id is not None

    class Reported(MemoryLedger):
        def apply_delivery(self, update: DeliveryUpdate) -> ReportOutcome:
            return ReportOutcome.APPLIED

    class Due(MemoryAgenda):
        def due_checks(self, now: datetime, limit: int) -> list[DueCheck]:
            return [
                DueCheck("promo-8", entry.recipient_ref, str(entry.provider_message_id), MORNING, MORNING)
            ]

    ledger = Reported()
    ledger.entries = rig.ledger.entries
    report = DeliveryReport.model_validate(
        {
            "response-code": 200,
            "message-id": entry.provider_message_id,
            "delivery-description": "SenderName Blacklisted",
        }
    )
    metrics = ListMetrics()
    reconciler = Reconciler(
        ledger,
        Due(),
        {"primary": lambda _: report},
        MemoryOutbox(),
        metrics,
        privacy=rig.privacy,
        sleep=lambda _: None,
    )
    for _ in range(2):  # the same report twice
        reconciler.run(MORNING + timedelta(minutes=5))
    [record] = rig.store.records.values()
    assert list(record.suppressions) == [Scope.PROMOTIONAL] and record.masked == "2547*****001"
    assert record.suppressions[Scope.PROMOTIONAL].source == "delivery-report"
    assert metrics.counts["NumbersOptedOut"] == 1
    # Its receipts still go; its promotions do not.
    rig.run(receipt("QK8", "0711000001"), promotion("promo-9", "0711000001"))
    assert rig.statuses("QK8")["2547*****001"][0] == "SENT"
    assert rig.statuses("promo-9")["2547*****001"][0] == "SUPPRESSED"


# -- templates -----------------------------------------------------------------------------------


def test_a_promotion_template_is_measured_with_its_footer() -> None:
    text = "{{ offer }}" + " and more" * 12
    plain = validate("promotion", text, max_parts=3, footer="")
    footed = validate("promotion", text, max_parts=3)
    assert plain.ok and footed.ok
    assert footed.best_text is not None and footed.best_text.endswith(DEFAULT_FOOTER)
    assert (footed.worst_septets or 0) - (plain.worst_septets or 0) == len(DEFAULT_FOOTER) + 1
    # The footer can be what tips a template over the limit.
    base = validate("promotion", "{{ offer }} x", max_parts=3, footer="").worst_septets or 0
    long = "{{ offer }} x" + "x" * (3 * 153 - base - 4)  # within three parts, by less than the footer
    assert validate("promotion", long, max_parts=3, footer="").ok
    assert not validate("promotion", long, max_parts=3).ok
    assert MessageCategory.PROMOTIONAL.value == "promotional"
