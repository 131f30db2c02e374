"""`tuma local demo`: fire the samples in events/ through their real paths and report what each phone got.

Webhook samples are POSTed over HTTP to the local API front (with this topology's path token, and
signed with its HMAC key), the payments sample is written to the payments table, the alarm is
published to the alarm topic and outbox samples are put on the outbox queue. The demo then waits
for every resulting message to settle, delivery reports included, and prints a table.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import httpx
from boto3.dynamodb.types import TypeDeserializer

from tuma_cli.api_signing import ApiKeyCredentials, signature_headers
from tuma_cli.daraja_sandbox.server import CALLBACKS_FROM
from tuma_cli.local.provision import client
from tuma_cli.local.runner import LocalTopology, running
from tuma_cli.ready import project_root

# What the demo waits for: every entry has its outcome (a delivery report, or why nothing was sent).
SETTLED = {"DELIVERED", "FAILED", "REJECTED", "UNDELIVERABLE", "SUPPRESSED"}
TOKEN_PLACEHOLDER = "PATH-TOKEN"  # noqa: S105 - the placeholder events/ ship with
DEMO_PARAMETERS = {"AlertRecipients": "0722 000 111,0733 000 222"}


@dataclass
class Sample:
    event_file: str
    source: str
    fire: Callable[[LocalTopology], str | None]  # returns the HTTP answer, for webhook samples
    keys: list[str] = field(default_factory=list)


def _event(topology: LocalTopology, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((topology.root / "events" / name).read_text())
    return loaded


def _webhook(topology: LocalTopology, name: str) -> Sample:
    event = _event(topology, name)
    raw = base64.b64decode(event["body"]) if event.get("isBase64Encoded") else event["body"].encode()
    signed = event["path"] == "/payments" or event["path"] == "/alerts"

    def fire(running: LocalTopology) -> str:
        assert running.front is not None
        headers = {"Content-Type": "application/json"}
        caller = _caller_of(event["path"])
        path = event["path"].replace(TOKEN_PLACEHOLDER, running.callback_token(caller) if caller else "")
        if signed:  # as the business's own code signs (README, "Calling Tuma's API")
            key = ApiKeyCredentials(running.api_key["id"], running.api_key["secret"])
            headers |= signature_headers(key, "POST", running.front.url + path, raw)
        # Daraja's samples come from where Daraja's callbacks come from here (the allowed address).
        source = CALLBACKS_FROM if caller == "DarajaCallbackSecret" else "127.0.0.1"
        with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=30) as http:
            answer = http.post(running.front.url + path, content=raw, headers=headers)
        return f"{answer.status_code} {answer.text}"

    keys = _webhook_keys(event["path"], json.loads(raw))
    return Sample(name, "webhook " + event["resource"].replace("/{token}", ""), fire, keys)


def _caller_of(path: str) -> str | None:
    """The secret whose token a sample's path takes (None: a signed route, no token)."""
    if path.startswith("/delivery-reports/"):
        return "ProviderCallbackSecret"
    return "DarajaCallbackSecret" if TOKEN_PLACEHOLDER in path else None


def _webhook_keys(path: str, body: dict[str, Any]) -> list[str]:
    """The ledger keys a webhook sample's outcome is recorded under."""
    if "TransID" in body and "confirmation" in path:
        return [body["TransID"]]
    if "Body" in body:
        stk = body["Body"]["stkCallback"]
        items = {i["Name"]: i.get("Value") for i in (stk.get("CallbackMetadata") or {}).get("Item", [])}
        return (
            [items["MpesaReceiptNumber"]] if stk["ResultCode"] == 0 else [f"stk:{stk['CheckoutRequestID']}"]
        )
    if path == "/payments":
        return [body["reference"]]
    if path == "/alerts":
        return [f"alert:{body['id']}"]
    return []


def _outbox(topology: LocalTopology, name: str) -> Sample:
    bodies = [record["body"] for record in _event(topology, name)["Records"]]
    parsed = [json.loads(b) for b in bodies]

    def fire(running: LocalTopology) -> None:
        assert running.topology is not None
        if all(p.get("Type") == "Notification" for p in parsed):
            sns = client("sns", running.endpoint)  # an alarm: through the topic, as CloudWatch would
            for notification in parsed:
                sns.publish(TopicArn=running.topology.ref("AlarmTopic"), Message=notification["Message"])
            return
        url = running.topology.resources["OutboxQueue"]["QueueUrl"]
        for body in bodies:
            client("sqs", running.endpoint).send_message(QueueUrl=url, MessageBody=body)

    keys = []
    for item in parsed:
        if item.get("Type") == "Notification":
            alarm = json.loads(item["Message"])
            keys.append(f"alarm:{alarm['AlarmName']}:{alarm['NewStateValue']}:{alarm['StateChangeTime']}")
        else:
            keys.append(item["idempotency_key"])
    source = "alarm topic" if keys and keys[0].startswith("alarm:") else "outbox queue"
    return Sample(name, source, fire, keys)


def _stream(topology: LocalTopology, name: str) -> Sample:
    records = _event(topology, name)["Records"]
    images = [r["dynamodb"]["NewImage"] for r in records]

    def fire(running: LocalTopology) -> None:
        assert running.topology is not None
        dynamodb = client("dynamodb", running.endpoint)
        for image in images:
            dynamodb.put_item(TableName=running.topology.ref("PaymentsTable"), Item=image)

    return Sample(name, "payments table", fire, [i["reference"]["S"] for i in images])


def samples(topology: LocalTopology) -> list[Sample]:
    folder = topology.root / "events"
    chosen = [_webhook(topology, p.name) for p in sorted(folder.glob("webhook_*.json"))]
    chosen += [_stream(topology, p.name) for p in sorted(folder.glob("payments_stream_*.json"))]
    chosen += [_outbox(topology, p.name) for p in sorted(folder.glob("outbox_*.json"))]
    return chosen


def _ledger(topology: LocalTopology) -> list[dict[str, Any]]:
    assert topology.topology is not None
    deserialize = TypeDeserializer().deserialize
    items = client("dynamodb", topology.endpoint).scan(TableName=topology.topology.ref("LedgerTable"))[
        "Items"
    ]
    # Recipients' entries only: a payment's own record (`#payment`) says which sources saw it.
    return [
        {k: deserialize(v) for k, v in item.items()}
        for item in items
        if not item["recipient_ref"]["S"].startswith("#")
    ]


def _settled(entries: list[dict[str, Any]], keys: list[str]) -> bool:
    for key in keys:
        mine = [e for e in entries if e["idempotency_key"] == key]
        if not mine or any(e["status"] not in SETTLED for e in mine):
            return False
    return True


def _table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]], out: IO[str]) -> None:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers) - 1)]
    for row in [headers, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1], file=out)


def _wait_until_settled(topology: LocalTopology, keys: list[str], timeout: float) -> list[dict[str, Any]]:
    """The ledger's entries once every key has settled, or as they stand when `timeout` runs out."""
    deadline = time.monotonic() + timeout
    entries = _ledger(topology)
    while not _settled(entries, keys) and time.monotonic() < deadline:
        time.sleep(0.25)
        entries = _ledger(topology)
    return entries


def run_demo(topology: LocalTopology, timeout: float, out: IO[str]) -> int:
    assert topology.sandbox is not None
    chosen = samples(topology)
    requests = _fire(topology, chosen)
    keys = [k for s in chosen for k in s.keys]
    entries = _wait_until_settled(topology, keys, timeout)
    phones = {m["messageid"]: m for m in httpx.get(f"{topology.sandbox.url}/_sandbox/outbox").json()}

    print("Webhook requests (HTTP, through the local API front):", file=out)
    _table(("EVENT", "ANSWER"), requests, out)
    rows: list[tuple[str, ...]] = [row for sample in chosen for row in _phone_rows(sample, entries, phones)]
    print("\nWhat each phone received:", file=out)
    _table(("SOURCE", "KEY", "PHONE", "PARTS", "STATUS", "DELIVERY", "LEARNT BY", "TEXT"), rows, out)
    ok = _settled(entries, keys) and not _missing(entries, phones)
    verdict = (
        "every message settled, delivery reports included" if ok else "NOT all settled before the timeout"
    )
    print(
        f"\n{len(rows)} outcomes from {len(chosen)} samples, {len(phones)} SMS at the simulator: {verdict}",
        file=out,
    )
    return 0 if ok else 1


def _fire(topology: LocalTopology, chosen: Sequence[Sample]) -> list[tuple[str, ...]]:
    """Every sample fired; the webhook ones' HTTP answers, by event file."""
    requests: list[tuple[str, ...]] = []
    for sample in chosen:
        answer = sample.fire(topology)
        if answer is not None:
            requests.append((sample.event_file, answer[:90]))
    return requests


def _missing(entries: list[dict[str, Any]], phones: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries the ledger says went whose SMS the simulator never got."""
    went = ("SENT", "DELIVERED")
    return [e for e in entries if e["status"] in went and e.get("provider_message_id") not in phones]


def _phone_rows(
    sample: Sample, entries: list[dict[str, Any]], phones: dict[str, dict[str, Any]]
) -> list[tuple[str, ...]]:
    """One row per recipient of the sample's messages: what the phone got, or why nothing."""
    rows: list[tuple[str, ...]] = []
    mine = sorted((e for e in entries if e["idempotency_key"] in sample.keys), key=lambda e: e["recipient"])
    for entry in mine:
        received = phones.get(entry.get("provider_message_id") or "", {})
        rows.append(
            (
                sample.source,
                entry["idempotency_key"][:34],
                entry["recipient"],
                str(entry.get("parts") or "-"),
                entry["status"],
                entry.get("delivery_status") or "-",
                entry.get("final_via") or "-",
                received.get("message") or f"(nothing sent: {entry.get('reason') or '-'})",
            )
        )
    return rows


DARAJA_PAYMENTS = (
    ("QKD1A2B3C4", "1,200.00", "254712000101", "Amina", "deliver"),
    ("QKD2B3C4D5", "350.00", "254712000102", "Otieno", "drop"),
    ("QKD3C4D5E6", "4,000.00", "254712000103", "Wambui", "late"),
    ("QKD4D5E6F7", "75.00", "254712000104", "Kiprop", "drop"),
    ("QKD5E6F7G8", "900.00", "254712000105", "Njeri", "deliver"),
    ("QKD6F7G8H9", "2,500.00", "254712000106", "Mutua", "drop"),
)


def run_daraja_demo(topology: LocalTopology, timeout: float, out: IO[str]) -> int:
    """Register with the Daraja simulator, then customers pay: some confirmations are delivered, some
    dropped, some late. Every payment ends with one receipt; the recovered ones are learnt by pull."""
    assert topology.daraja is not None and topology.sandbox is not None
    print(f"\nDaraja (the simulator): {_register_with_simulator(topology)}", file=out)
    for receipt, amount, phone, name, mode in DARAJA_PAYMENTS:
        body = {
            "TransID": receipt,
            "TransAmount": amount.replace(",", ""),
            "MSISDN": phone,
            "BillRefNumber": f"ACC-{receipt[-3:]}",
            "FirstName": name,
            "callback": mode,
        }
        httpx.post(f"{topology.daraja.url}/_sandbox/payments", json=body, timeout=10).raise_for_status()
    keys = [p[0] for p in DARAJA_PAYMENTS]
    _wait_until_settled(topology, keys, timeout)
    # The late confirmations come now: they must send nothing more.
    time.sleep(topology.daraja.platform.settings.late_seconds)
    entries = _ledger(topology)
    phones = httpx.get(f"{topology.sandbox.url}/_sandbox/outbox", timeout=10).json()
    rows = [_payment_row(receipt, mode, entries, phones) for receipt, _, _, _, mode in DARAJA_PAYMENTS]
    ok = _settled(entries, keys) and all(row[4] == "1" for row in rows)
    print("\nCustomers paid; their confirmation callbacks were delivered, dropped or late:", file=out)
    _table(("RECEIPT", "CALLBACK", "LEARNT BY", "STATUS", "SMS", "TEXT"), rows, out)
    print(f"\n{len(rows)} payments, {_receipts_verdict(rows, ok)}", file=out)
    return 0 if ok else 1


def _receipts_verdict(rows: Sequence[tuple[str, ...]], ok: bool) -> str:
    if not ok:
        return "NOT every payment got exactly one receipt"
    return f"one receipt each; {sum(1 for row in rows if row[2] == 'pull')} recovered by pull"


def _register_with_simulator(topology: LocalTopology) -> str:
    """The topology's callback URLs and Pull registered with the Daraja simulator, as an operator
    would with `tuma daraja register`; what Daraja said to each call."""
    from tuma.adapters.http import Urllib3Http
    from tuma.daraja.client import DarajaClient
    from tuma.models.daraja_credentials import DarajaCredentials
    from tuma.services.daraja_setup import CallbackUrls, register

    assert topology.daraja is not None and topology.front is not None
    credentials = DarajaCredentials.model_validate(topology.daraja.platform.secret())
    urls = CallbackUrls.at(topology.front.url, topology.callback_token("DarajaCallbackSecret"))
    daraja = DarajaClient(topology.daraja.url, lambda: credentials, Urllib3Http(3, 10))
    steps = register(daraja, credentials, urls, version="v2", response_type="Completed")
    return "; ".join(f"{s.call} {s.result.outcome}" for s in steps)


def _payment_row(
    receipt: str, mode: str, entries: list[dict[str, Any]], phones: list[dict[str, Any]]
) -> tuple[str, ...]:
    sms = [m["message"] for m in phones if m["message"].startswith(receipt)]
    entry = next((e for e in entries if e["idempotency_key"] == receipt), {})
    return (
        receipt,
        mode,
        entry.get("source", "-"),
        entry.get("status", "-"),
        str(len(sms)),
        sms[0] if sms else "-",
    )


def run_doctor(topology: LocalTopology, out: IO[str]) -> int:
    """`tuma doctor --local --test-alarm` on the demo's topology: it must be all ✓."""
    from tuma_cli.doctor import Doctor
    from tuma_cli.stack import of_ready

    checks = Doctor(of_ready(topology.ready_info())).run(test_alarm=True, wait=30)
    print("\ntuma doctor --local --test-alarm:", file=out)
    for check in checks:
        print(f"{check.mark} {check.name}: {check.detail}", file=out)
    return 0 if all(check.ok for check in checks) else 1


def demo(
    port: int, timeout: float, delivery_callbacks: bool = True, keep: bool = False, daraja: bool = False
) -> int:
    """With `delivery_callbacks` off the simulator posts no reports: every status is learnt by
    polling (the reconciler, run every second here, asks a second after each send). With `daraja`,
    a Daraja simulator too, and payments whose callbacks are dropped (run_daraja_demo)."""
    parameters = (
        DEMO_PARAMETERS if delivery_callbacks else DEMO_PARAMETERS | {"DeliveryCheckAfterSeconds": "1"}
    )
    with running(
        project_root(),
        port,
        dlr_delay=0.5,
        parameters=parameters,
        delivery_callbacks=delivery_callbacks,
        schedule_period=None if delivery_callbacks else 1.0,
        daraja=daraja,
    ) as topology:
        result = run_demo(topology, timeout, sys.stdout)
        if daraja:
            result = max(result, run_daraja_demo(topology, timeout, sys.stdout))
        result = max(result, run_doctor(topology, sys.stdout))
        if not keep:
            print(
                "\nTo look around in the operator's console: tuma local demo --keep (then open http://127.0.0.1:8900/)"
            )
            return result
        from tuma_cli.console.serve import beside

        url, _ = beside(topology.ready_info(), 8900)
        print(f"\nThe operator's console: {url} (search LGR219G3EY); Ctrl-C stops everything.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
        return result
