"""Daraja's side, simulated: pure logic, no HTTP. `DarajaPlatform.handle(method, path, headers, body)`
returns `(status, json_body)`; the server in `server.py` puts it on loopback.

What it keeps: the app's credentials and the tokens it issued; the URLs registered per short code
(a second registration answers "already registered", as production does); the Pull registrations;
and every payment a test says a customer made, which Pull lists and Transaction Status finds.
"""

from __future__ import annotations

import base64
import itertools
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from tuma.formatting.clock import EAT

from tuma_cli.daraja_sandbox.keys import CredentialKey
from tuma_cli.daraja_sandbox.payments import (
    CALLBACK_MODES,
    CustomerPayment,
    DarajaSimulatorSettings,
    Outgoing,
)
from tuma_cli.security_credential import encrypt_credential


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"requestId": uuid.uuid4().hex[:20], "errorCode": code, "errorMessage": message}


class DarajaPlatform:
    def __init__(
        self, settings: DarajaSimulatorSettings | None = None, clock: Callable[[], float] = time.time
    ):
        self.settings = settings or DarajaSimulatorSettings()
        self._clock = clock
        self._lock = threading.Lock()
        self.tokens: dict[str, float] = {}
        self.registered: dict[str, dict[str, str]] = {}
        self.pull_registered: dict[str, dict[str, str]] = {}
        self.payments: list[CustomerPayment] = []
        self.requests: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self.outgoing: list[Outgoing] = []  # what the server's poster must send, when due
        # Its own key pair, standing for Safaricom's: Transaction Status decrypts the initiator's
        # SecurityCredential with the private key; `tuma daraja credential --local` encrypts with
        # the certificate (GET /_sandbox/certificate).
        self.credential_key = CredentialKey.generate()

    def secret(self) -> dict[str, Any]:
        """What goes in Tuma's Daraja secret to talk to this simulator: the initiator's password
        encrypted with its certificate, as `tuma daraja credential` would store it."""
        encrypted = encrypt_credential(self.settings.initiator_password, self.credential_key.certificate_pem)
        return self.settings.secret() | {"security_credential": encrypted}

    # -- steering ---------------------------------------------------------------------------------

    def configure(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            for name, value in changes.items():
                if not hasattr(self.settings, name):
                    raise KeyError(name)
                current = getattr(self.settings, name)
                setattr(
                    self.settings, name, tuple(value) if isinstance(current, tuple) else type(current)(value)
                )
        return self.describe()

    def describe(self) -> dict[str, Any]:
        described = asdict(self.settings)
        described["registered"] = dict(self.registered)
        described["pull_registered"] = dict(self.pull_registered)
        return described

    def record_payment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /_sandbox/payments`: a customer paid. `callback` says what becomes of its confirmation;
        `callback_fields` and `row_fields` what its callback and its Pull row say differently."""
        mode = str(body.get("callback", "deliver"))
        if mode not in CALLBACK_MODES:
            raise ValueError(f"callback must be one of {', '.join(CALLBACK_MODES)}")
        now = self._clock()
        payment = CustomerPayment(
            TransID=str(body.get("TransID") or f"SIM{next(self._ids):07d}").upper(),
            TransAmount=str(body.get("TransAmount", "1.00")),
            MSISDN=str(body.get("MSISDN", "254708374149")),
            BillRefNumber=str(body.get("BillRefNumber", "")),
            BusinessShortCode=str(body.get("BusinessShortCode") or self.settings.short_codes[0]),
            FirstName=str(body.get("FirstName", "")),
            callback=mode,
            # M-Pesa times its transactions to the second, as Pull's dates are.
            made_at=float(int(float(body.get("made_at", now)))),
            callback_fields=dict(body.get("callback_fields") or {}),
            row_fields=dict(body.get("row_fields") or {}),
        )
        with self._lock:
            self.payments.append(payment)
            url = self.registered.get(payment.BusinessShortCode, {}).get("confirmation")
            if mode != "drop" and url:
                delay = self.settings.late_seconds if mode == "late" else 0.0
                self.outgoing.append(Outgoing(url, payment.confirmation(), now + delay, payment))
        return self.payment_view(payment)

    def payment_view(self, payment: CustomerPayment) -> dict[str, Any]:
        return asdict(payment)

    def payments_view(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self.payment_view(p) for p in self.payments]

    def due(self) -> list[Outgoing]:
        """The POSTs whose time has come, taken off the list."""
        now = self._clock()
        with self._lock:
            ready = [o for o in self.outgoing if o.at <= now]
            self.outgoing = [o for o in self.outgoing if o.at > now]
        return ready

    def next_due(self) -> float | None:
        with self._lock:
            return min((o.at for o in self.outgoing), default=None)

    # -- the API ----------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], body: Any
    ) -> tuple[int, dict[str, Any]]:
        self.requests[path] += 1
        if path == "/oauth/v1/generate":
            return self._oauth(method, query, headers)
        if method != "POST":
            return _error(404, "404.001.04", "Invalid Authentication Header")
        if not self._authorised(headers):
            return _error(401, "404.001.03", "Invalid Access Token")
        if not isinstance(body, dict):
            return _error(400, "400.002.05", "Invalid Request Payload")
        routes: dict[str, Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]] = {
            "/mpesa/c2b/v1/registerurl": lambda b: self._register_urls("v1", b),
            "/mpesa/c2b/v2/registerurl": lambda b: self._register_urls("v2", b),
            "/pulltransactions/v1/register": self._register_pull,
            "/pulltransactions/v1/query": self._pull,
            "/mpesa/transactionstatus/v1/query": self._status,
        }
        route = routes.get(path)
        if route is None:
            return _error(404, "404.003.01", "Resource not found")
        return route(body)

    def _oauth(
        self, method: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        if method != "GET" or query.get("grant_type") != "client_credentials":
            return _error(400, "400.008.02", "Invalid grant type passed")
        expected = base64.b64encode(
            f"{self.settings.consumer_key}:{self.settings.consumer_secret}".encode()
        ).decode()
        if headers.get("authorization", "") != f"Basic {expected}":
            return _error(400, "400.008.01", "Invalid Authentication passed")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = self._clock() + self.settings.token_seconds
        return 200, {"access_token": token, "expires_in": str(self.settings.token_seconds)}

    def _authorised(self, headers: Mapping[str, str]) -> bool:
        value = headers.get("authorization", "")
        if not value.startswith("Bearer "):
            return False
        with self._lock:
            expires = self.tokens.get(value.removeprefix("Bearer ").strip())
        return expires is not None and expires > self._clock()

    def _known_code(self, body: Mapping[str, Any]) -> str | None:
        code = str(body.get("ShortCode", "")).strip()
        return code if code in self.settings.short_codes else None

    def _register_urls(self, version: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if version != self.settings.api_product:
            return _error(
                401,
                "401.003.01",
                "Error Occurred - Invalid Access Token - The Access Token does not match the API: "
                "no apiproduct match found",
            )
        code = self._known_code(body)
        if code is None:
            return _error(400, "400.003.02", "Bad Request - Invalid ShortCode")
        if body.get("ResponseType") not in ("Completed", "Cancelled"):
            return _error(400, "400.003.02", "Bad Request - Invalid ResponseType")
        confirmation, validation = body.get("ConfirmationURL"), body.get("ValidationURL")
        if not isinstance(confirmation, str) or not confirmation.startswith("http"):
            return _error(400, "400.003.02", "Bad Request - Invalid ConfirmationURL")
        with self._lock:
            if code in self.registered:
                return _error(500, "500.003.1001", "Urls are already registered.")
            self.registered[code] = {
                "version": version,
                "confirmation": confirmation,
                "validation": str(validation or ""),
                "response_type": str(body["ResponseType"]),
            }
        return 200, {
            "OriginatorCoversationID": f"{next(self._ids)}-{code}-1",
            "ResponseCode": "0",
            "ResponseDescription": "Success",
        }

    def _register_pull(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        code = self._known_code(body)
        if code is None:
            return _error(400, "400.001", "Invalid ShortCode")
        answer: dict[str, Any] = {"ResponseRefID": str(uuid.uuid4()), "ShortCode": code}
        with self._lock:
            if code in self.pull_registered:
                return 200, answer | {
                    "ResponseStatus": "1001",
                    "ResponseDescription": "ShortCode already Registered",
                }
            self.pull_registered[code] = {
                "nominated": str(body.get("NominatedNumber", "")),
                "callback": str(body.get("CallBackURL", "")),
            }
        return 200, answer | {
            "ResponseStatus": "1000",
            "ResponseDescription": "Shortcode Registered Successfully",
        }

    def _pull(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        code = self._known_code(body)
        if code is None or code not in self.pull_registered:
            return _error(400, "400.001", "Invalid ShortCode")
        try:
            start = _daraja_time(str(body["StartDate"]), self.settings.trx_dates)
            end = _daraja_time(str(body["EndDate"]), self.settings.trx_dates)
            offset = int(str(body.get("OffSetValue", "0")))
        except (KeyError, ValueError):
            return _error(400, "400.002.05", "Invalid Request Payload")
        with self._lock:
            rows = sorted(
                (p for p in self.payments if p.BusinessShortCode == code and start <= p.made_at <= end),
                key=lambda p: (p.made_at, p.TransID),
            )
        page = rows[offset : offset + self.settings.page_size]
        reference = str(uuid.uuid4())
        if not page:
            return 200, {
                "ResponseRefID": reference,
                "ResponseCode": "1001",
                "ResponseMessage": "No transactions",
                "Response": [[]],
            }
        return 200, {
            "ResponseRefID": reference,
            "ResponseCode": "1000",
            "ResponseMessage": "Success",
            "Response": [[p.pulled(self.settings.organization_name, self.settings.trx_dates) for p in page]],
        }

    def _status(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        result_url = body.get("ResultURL")
        if not isinstance(result_url, str) or not result_url.startswith("http"):
            return _error(400, "400.002.02", "Bad Request - Invalid ResultURL")
        receipt = str(body.get("TransactionID", "")).strip().upper()
        conversation = f"AG_{datetime.now(UTC):%Y%m%d}_{uuid.uuid4().hex[:20]}"
        originator = f"{next(self._ids)}-{uuid.uuid4().int % 10**7}-1"
        # As Daraja does: the request is accepted, and an initiator it cannot authenticate (a wrong
        # name, or a password not encrypted with its certificate) is answered 2001 in the result.
        trusted = body.get("Initiator") == self.settings.initiator_name and self.credential_key.decrypts(
            body.get("SecurityCredential"), self.settings.initiator_password
        )
        with self._lock:
            payment = next((p for p in self.payments if p.TransID == receipt), None)
            result = (
                self._status_result(payment, receipt, body.get("Occasion"), conversation, originator)
                if trusted
                else _invalid_initiator(receipt, conversation, originator)
            )
            self.outgoing.append(Outgoing(result_url, result, self._clock() + self.settings.result_delay))
        return 200, {
            "OriginatorConversationID": originator,
            "ConversationID": conversation,
            "ResponseCode": "0",
            "ResponseDescription": "Accept the service request successfully.",
        }

    def _status_result(
        self, payment: CustomerPayment | None, receipt: str, occasion: Any, conversation: str, originator: str
    ) -> dict[str, Any]:
        reference = (
            {"ReferenceItem": {"Key": "Occasion", "Value": occasion}}
            if occasion
            else {"ReferenceItem": {"Key": "Occasion"}}
        )
        if payment is None:
            return {
                "Result": {
                    "ResultType": 0,
                    "ResultCode": "R000002",
                    "ResultDesc": "The transaction receipt number does not exist.",
                    "OriginatorConversationID": originator,
                    "ConversationID": conversation,
                    "TransactionID": receipt,
                    "ReferenceData": reference,
                }
            }
        when = datetime.fromtimestamp(payment.made_at, EAT).strftime("%Y%m%d%H%M%S")
        parameters = {
            "DebitPartyName": f"{payment.MSISDN} - {payment.FirstName}".strip(" -"),
            "CreditPartyName": f"{payment.BusinessShortCode} - {self.settings.organization_name}",
            "OriginatorConversationID": originator,
            "InitiatedTime": when,
            "DebitAccountType": "MMF Account For Customer",
            "DebitPartyCharges": "",
            "TransactionReason": "",
            "ReasonType": "Pay Utility",
            "TransactionStatus": "Completed",
            "FinalisedTime": when,
            "Amount": payment.TransAmount,
            "ConversationID": conversation,
            "ReceiptNo": payment.TransID,
        }
        return {
            "Result": {
                "ResultType": 0,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "OriginatorConversationID": originator,
                "ConversationID": conversation,
                "TransactionID": payment.TransID,
                "ResultParameters": {
                    "ResultParameter": [{"Key": k, "Value": v} for k, v in parameters.items()]
                },
                "ReferenceData": reference,
            }
        }


def _daraja_time(text: str, trx_dates: str = "kenya") -> float:
    """Pull's dates: `YYYY-MM-DD HH:MM:SS` (seconds optional, and sometimes one digit too many), on the
    simulated Daraja's clock (UTC when its `trx_dates` is "utc", Kenyan time otherwise)."""
    text = text.strip()
    zone = UTC if trx_dates == "utc" else EAT
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(text[:19], pattern).replace(tzinfo=zone).timestamp()
        except ValueError:
            continue
    raise ValueError(text)


def _invalid_initiator(receipt: str, conversation: str, originator: str) -> dict[str, Any]:
    return {
        "Result": {
            "ResultType": 0,
            "ResultCode": 2001,
            "ResultDesc": "The initiator information is invalid.",
            "OriginatorConversationID": originator,
            "ConversationID": conversation,
            "TransactionID": receipt,
            "ReferenceData": {"ReferenceItem": {"Key": "Occasion", "Value": receipt}},
        }
    }
