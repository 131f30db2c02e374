"""Every vector of tests/adversarial through the running local topology, driven from outside.

Each source's vectors go in the way real callers send them (HTTP to the webhooks, signed where the
route wants it; a row in the payments table; a message on the outbox queue), then the simulator's
outbox and the ledger say what happened: the right SMS, or nothing sent and the reason recorded.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from tuma.models.mpesa import C2BConfirmation

from tests.conftest import ROOT, shared_fixture
from tests.e2e.conftest import ALERT_RECIPIENTS, Local, running_local

pytestmark = pytest.mark.e2e
CORPUS = ROOT / "tests" / "adversarial"
_refs = itertools.count(1)


@pytest.fixture(scope="module")
def local() -> Iterator[Local]:
    """A topology of its own: a thousand delivery reports of this corpus must not queue ahead of
    the other end-to-end tests' reports."""
    with running_local(f"AlertRecipients={ALERT_RECIPIENTS}") as topology:
        yield topology


def _load(name: str) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads((CORPUS / name).read_text())
    return vectors


def _fill(value: Any, ref: str) -> Any:
    if isinstance(value, str):
        return value.replace("{ref_lower}", ref.lower()).replace("{ref}", ref)
    if isinstance(value, list):
        return [_fill(v, ref) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ref) for k, v in value.items()}
    return value


def _overlay(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


class Case:
    """One vector: fired, then judged against the ledger and the simulator."""

    def __init__(self, source: str, vector: dict[str, Any]) -> None:
        self.source = source
        self.vector = vector
        self.ref = f"ADV{next(_refs):07d}"
        self.input = _fill(vector["input"], self.ref)
        self.expect = _fill(vector["expect"], self.ref)
        self.key = self.ref
        self.answer: httpx.Response | None = None

    @property
    def label(self) -> str:
        return f"{self.source}: {self.vector['name']}"

    def entries(self, ledger: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in ledger if e["idempotency_key"] == self.key]

    def texts(self, ledger: list[dict[str, Any]], phones: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        ids = {e.get("provider_message_id") for e in self.entries(ledger)}
        return [phones[i] for i in ids if i in phones]

    def settled(self, ledger: list[dict[str, Any]], phones: dict[str, dict[str, Any]]) -> bool:
        if self.expect.get("http") is not None and self.expect["http"] >= 400:
            return True
        entries = self.entries(ledger)
        if "status" in self.expect and not any(e["status"] == self.expect["status"] for e in entries):
            return False
        # Cross-source cases give only a count: an early entry (a masked report's) is not the end.
        if "sms" in self.expect or self.expect.get("sms_count", 0) > 0:
            return len(self.texts(ledger, phones)) >= int(self.expect.get("sms_count", 1))
        return bool(entries)

    def problems(self, ledger: list[dict[str, Any]], phones: dict[str, dict[str, Any]]) -> list[str]:
        texts = self.texts(ledger, phones)
        return self._answer_problems() + self._sms_problems(texts) + self._ledger_problems(ledger, texts)

    def _answer_problems(self) -> list[str]:
        expect, found = self.expect, list[str]()
        if "http" in expect and (self.answer is None or self.answer.status_code != expect["http"]):
            found.append(f"answered {self.answer.status_code if self.answer else None}, not {expect['http']}")
        if expect.get("field") and self.answer is not None:
            fields = [f.get("field") for f in self.answer.json().get("fields", [])]
            if expect["field"] not in fields:
                found.append(f"422 names {fields}, not {expect['field']}")
        return found

    def _sms_problems(self, texts: list[dict[str, Any]]) -> list[str]:
        expect, found = self.expect, list[str]()
        if "sms" not in expect and "sms_count" not in expect:
            return found
        if len(texts) != expect.get("sms_count", 1):
            found.append(f"{len(texts)} SMS, not {expect.get('sms_count', 1)}")
        shown = [t["message"] for t in texts[:2]]
        found += [
            f"SMS {shown} lacks {w!r}"
            for w in expect.get("sms", [])
            if not all(w in t["message"] for t in texts)
        ]
        found += [
            f"SMS {shown} has {w!r}" for w in expect.get("not", []) if any(w in t["message"] for t in texts)
        ]
        if expect.get("route") and not all(t["route"] == expect["route"] for t in texts):
            found.append(f"routes {[t['route'] for t in texts]}, not {expect['route']}")
        if expect.get("mobile") and [t["mobile"] for t in texts] != [expect["mobile"]]:
            found.append("sent to another number than expected")
        return found

    def _ledger_problems(self, ledger: list[dict[str, Any]], texts: list[dict[str, Any]]) -> list[str]:
        expect, found = self.expect, []
        nothing_sent = "sms" not in expect and "sms_count" not in expect
        if nothing_sent and texts:
            found.append(f"{len(texts)} SMS sent, none expected")
        if "status" in expect:
            matching = [e for e in self.entries(ledger) if e["status"] == expect["status"]]
            if not matching:
                found.append(f"no {expect['status']} entry under {self.key!r}")
            elif not any(expect["reason"] in (e.get("reason") or "") for e in matching):
                found.append(f"reason {matching[0].get('reason')!r} lacks {expect['reason']!r}")
        if expect.get("key_prefix") and not self.key.startswith(expect["key_prefix"]):
            found.append(f"keyed {self.key!r}, not under {expect['key_prefix']!r}")
        return found


# -- how each source is fed ------------------------------------------------------------------------

C2B_BASE = shared_fixture("mpesa/c2b_confirmation_request_legacy_docs.json")
STK_BASE = shared_fixture("mpesa/stk_callback_success_official.json")
API_BASE = {"amount": "3250", "phone": "0712345678", "name": "Achieng", "account": "SCH-FEES-7B"}
STREAM_BASE = {
    "status": {"S": "COMPLETED"},
    "amount": {"N": "100"},
    "phone": {"S": "0712345678"},
    "name": {"S": "Kamau"},
    "account": {"S": "WATER-5521"},
}


def _c2b_body(case: Case) -> dict[str, Any]:
    body = _overlay(C2B_BASE | {"TransID": case.ref}, case.input)
    case.key = C2BConfirmation.model_validate(body).key()
    return body


def fire_c2b(local: Local, case: Case) -> None:
    case.answer = local.post("/payments/c2b/confirmation/{token}", _c2b_body(case))
    assert case.answer.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}, case.label


def _stk_body(case: Case) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(STK_BASE)
    callback = body["Body"]["stkCallback"]
    callback["CheckoutRequestID"] = f"ws_CO_{case.ref}"
    items = {i["Name"]: i["Value"] for i in callback["CallbackMetadata"]["Item"]}
    items["MpesaReceiptNumber"] = case.ref
    for name, value in case.input.items():
        if name in ("ResultCode", "ResultDesc"):
            callback.update({name: value}) if value is not None else callback.pop(name, None)
        else:
            items = _overlay(items, {name: value})
    callback["CallbackMetadata"]["Item"] = [{"Name": k, "Value": v} for k, v in items.items()]
    succeeded = str(callback.get("ResultCode")) == "0" and items.get("MpesaReceiptNumber")
    case.key = str(items["MpesaReceiptNumber"]).strip().upper() if succeeded else f"stk:ws_CO_{case.ref}"
    return body


def fire_stk(local: Local, case: Case) -> None:
    case.answer = local.post("/payments/stk/{token}", _stk_body(case))
    assert case.answer.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}, case.label


def fire_api(local: Local, case: Case) -> None:
    case.answer = local.post_signed("/payments", _overlay(API_BASE | {"reference": case.ref}, case.input))


def _typed(value: Any) -> Any:
    """Binary attribute values are written in the corpus in base64, as Lambda shows them."""
    if isinstance(value, dict):
        return {
            k: base64.b64decode(v)
            if k == "B"
            else [base64.b64decode(b) for b in v]
            if k == "BS"
            else _typed(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return value


def fire_stream(local: Local, case: Case) -> None:
    item = _overlay(
        STREAM_BASE | {"payment_id": {"S": f"adv-{case.ref}"}, "reference": {"S": case.ref}}, case.input
    )
    reference = item.get("reference", {}).get("S")
    case.key = reference.strip().upper() if reference else f"payment:adv-{case.ref}"
    local.aws("dynamodb").put_item(TableName=local.ready["tables"]["PaymentsTable"], Item=_typed(item))


def fire_outbox(local: Local, case: Case) -> None:
    message = _overlay({"idempotency_key": case.ref, "to": ["0712345678"]}, case.input)
    if isinstance(message.get("to"), str) and message["to"].startswith("@"):
        count = int(message["to"][1:])
        message["to"] = [
            f"07{n:08d}" for n in range(20_000_000, 20_000_000 + 2 * count) if not 401 <= n % 1000 <= 410
        ][:count]
    local.aws("sqs").send_message(
        QueueUrl=local.ready["queues"]["OutboxQueue"], MessageBody=json.dumps(message)
    )


RAW_BODIES = {
    "@nested": "[" * 20_000 + "]" * 20_000,
    "@deep40": '{"a": ' * 40 + "1" + "}" * 40,
    "@70k": "x" * 70_000,
}


def fire_raw(local: Local, case: Case) -> None:
    body = case.input["body"]
    raw = b"\xff\xfe{\x00" if body == "@badutf8" else body.encode()
    for placeholder, text in RAW_BODIES.items():
        raw = raw.replace(placeholder.encode(), text.encode())
    # From the address Daraja's callbacks come from here: what a malformed body meets past it.
    daraja = case.input["path"].startswith(("/payments/c2b/", "/payments/stk/", "/payments/status-results/"))
    source = local.ready["daraja_callbacks_from"] if daraja else "127.0.0.1"
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=30) as http:
        case.answer = http.request(
            case.input["method"],
            local.url(case.input["path"]),
            content=raw,
            headers={"Content-Type": "application/json"},
        )


SOURCES: dict[str, tuple[str, Callable[[Local, Case], None]]] = {
    "c2b": ("c2b.json", fire_c2b),
    "stk": ("stk.json", fire_stk),
    "payments-api": ("payments_api.json", fire_api),
    "payments-table": ("stream.json", fire_stream),
    "outbox": ("outbox.json", fire_outbox),
    "webhooks": ("webhooks_raw.json", fire_raw),
}


def _judge(local: Local, cases: list[Case], timeout: float = 90) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        ledger = local.ledger()
        phones = {m["messageid"]: m for m in local.phones()}
        if all(c.settled(ledger, phones) for c in cases) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    failures, counts = list[str](), Counter[tuple[str, str]]()
    for case in cases:
        problems = case.problems(ledger, phones)
        counts[(case.vector["class"], "failed" if problems else "passed")] += 1
        if problems:
            failures.append(f"{case.label}: {'; '.join(problems)}")
    # The figures per class, for the record (shown with -s).
    shown = ", ".join(
        f"{c} {counts[(c, 'passed')]}/{counts[(c, 'passed')] + counts[(c, 'failed')]}"
        for c in sorted({c for c, _ in counts})
    )
    print(f"\n{cases[0].source}: {shown}")
    return failures


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_vector_of_the_source_ends_in_its_expected_outcome(local: Local, source: str) -> None:
    name, fire = SOURCES[source]
    cases = [Case(source, vector) for vector in _load(name)]
    for case in cases:
        fire(local, case)
    failures = _judge(local, cases)
    assert failures == [], "\n".join(failures)


def test_one_payment_reported_by_several_sources_sends_one_receipt(local: Local) -> None:
    cases = []
    for vector in _load("cross_source.json"):
        case = Case("cross-source", vector)
        for report in case.input["reports"]:
            reference = case.ref.lower() if report.get("lower") else case.ref
            if report["source"] == "c2b":
                body = C2B_BASE | {"TransID": reference, "MSISDN": report["phone"]}
                assert local.post("/payments/c2b/confirmation/{token}", body).status_code == 200
            elif report["source"] == "stk":
                stk = Case("stk", {"input": {"PhoneNumber": report["phone"]}, "expect": {}, "name": ""})
                stk.ref = reference
                stk.input = {"PhoneNumber": report["phone"]}
                assert local.post("/payments/stk/{token}", _stk_body(stk)).status_code == 200
            elif report["source"] == "api":
                body = API_BASE | {"reference": reference, "phone": report["phone"]}
                assert local.post_signed("/payments", body).status_code == 202
            else:
                item = STREAM_BASE | {
                    "payment_id": {"S": f"x-{reference}-{report['phone']}"},
                    "reference": {"S": reference},
                    "phone": {"S": report["phone"]},
                }
                local.aws("dynamodb").put_item(TableName=local.ready["tables"]["PaymentsTable"], Item=item)
        cases.append(case)
    failures = _judge(local, cases)
    for case in cases:
        record = next(
            (e for e in local.ledger(case.key, with_payments=True) if e["recipient_ref"] == "#payment"), {}
        )
        if sorted(record.get("sources", [])) != case.expect["sources"]:
            failures.append(f"{case.label}: sources {sorted(record.get('sources', []))}")
    assert failures == [], "\n".join(failures)
