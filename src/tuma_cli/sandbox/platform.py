"""The simulated SMS platform: accounts, credit, numbers, texts and delivery reports, with the real codes.

Pure logic, no HTTP: `SmsPlatform.handle(endpoint, params)` returns `(http_status, json_body)`.

Delivery outcomes follow the last three digits of the number (like AWS's simulator addresses):

| ending | at send                      | delivery report          |
|--------|------------------------------|--------------------------|
| 401    | accepted                     | AbsentSubscriber         |
| 402    | accepted                     | DeliveryImpossible       |
| 403    | accepted                     | SenderName Blacklisted   |
| 404    | accepted                     | SentToNetwork (no final) |
| 405    | accepted                     | Unknown                  |
| 409    | 1003 invalid mobile number   | -                        |
| 410    | 1002 network not allowed     | -                        |
| other  | accepted                     | DeliveredToTerminal      |

A number listed in the settings' `opted_out` (any Kenyan form) has blocked promotions: what goes to it
under the promotional sender ID is accepted and reported `SenderName Blacklisted`, as Safaricom
reports it; its transactional messages are delivered.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tuma.formatting.clock import EAT
from tuma.formatting.gsm7 import count_parts, is_gsm7
from tuma.security.masking import HASHED_MSISDN

OUTCOMES = {
    "401": "AbsentSubscriber",
    "402": "DeliveryImpossible",
    "403": "SenderName Blacklisted",
    "404": "SentToNetwork",
    "405": "Unknown",
}
INVALID_ENDING = "409"
NETWORK_NOT_ALLOWED_ENDING = "410"
_VALID_MSISDN = re.compile(r"^254[17]\d{8}$")
# Approximate prefix → network (1 Safaricom, 2 Airtel, 3 Telkom), enough for `networkid`.
_AIRTEL = ("25473", "25475", "25478", "25410")
_TELKOM = ("25477",)


def network_of(mobile: str) -> int:
    if mobile.startswith(_TELKOM):
        return 3
    if mobile.startswith(_AIRTEL):
        return 2
    return 1


def _msisdn(value: Any) -> str:
    """A Kenyan number as the platform keys it (2547…), from any form an operator types."""
    digits = re.sub(r"\D", "", str(value))
    if digits.startswith("0"):
        digits = "254" + digits[1:]
    elif len(digits) == 9:
        digits = "254" + digits
    return digits


def _ucs2_parts(text: str) -> int:
    return 1 if len(text) <= 70 else -(-len(text) // 67)


@dataclass
class SentMessage:
    messageid: str
    mobile: str
    message: str
    shortcode: str
    route: str
    parts: int
    time: str
    clientsmsid: str | None = None
    network_id: int = 1
    scheduled_for: str | None = None
    sent_at: float = 0.0  # shown as accepted_at
    # Not part of the outbox view: when the report becomes available, and what it says.
    report_at: float = 0.0
    outcome: str = "DeliveredToTerminal"

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("report_at")
        # Epoch seconds, finer than `time`: what latency is measured against.
        data["accepted_at"] = data.pop("sent_at")
        data["delivery_status"] = self.outcome if time.time() >= self.report_at else None
        data.pop("outcome")
        return data


@dataclass
class SimulatorSettings:
    apikey: str = "sandbox-apikey-0123456789"
    partner_id: str = "12345"
    shortcode: str = "TUMA"
    credit: Decimal = Decimal(10_000)
    bulk_limit: int = 100
    comma_limit: int = 1000
    dlr_delay: float = 1.0
    callback_url: str | None = None
    dialect: str = "advanta"  # or "wavesms": bare arrays, `respose-code`, ids as strings
    promotional_shortcode: str = "TUMAINFO"  # the account's second sender ID, for promotions
    opted_out: list[str] = field(default_factory=list)  # numbers that blocked promotions
    unicode: str = "reject"  # or "allow": non-GSM7 texts billed as UCS-2 parts


@dataclass(frozen=True)
class _Target:
    """One recipient of a request, as the caller wrote it."""

    mobile: Any
    index: int
    clientsmsid: Any = None
    echo: Mapping[str, Any] | None = None  # the sendbulk entry, which failures echo back


@dataclass(frozen=True)
class _Text:
    message: str
    parts: int
    shortcode: str
    route: str
    time_to_send: Any = None


@dataclass
class Answer:
    status: int
    body: Any
    scheduled: list[SentMessage] = field(default_factory=list)


class SmsPlatform:
    def __init__(
        self, settings: SimulatorSettings | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings or SimulatorSettings()
        self._clock = clock
        self._lock = threading.RLock()
        self._ids = itertools.count(8290842)
        self.messages: dict[str, SentMessage] = {}
        self.outbox: list[SentMessage] = []
        self.requests: dict[str, int] = {}

    # -- control ------------------------------------------------------------------------------

    def configure(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            for key, raw in changes.items():
                if not hasattr(self.settings, key):
                    raise KeyError(key)
                current = getattr(self.settings, key)
                value = raw
                if isinstance(current, list):
                    if not isinstance(raw, list):
                        raise ValueError(f"{key} is a list")
                    value = [_msisdn(item) for item in raw]
                elif isinstance(current, Decimal):
                    value = Decimal(str(raw))
                elif isinstance(current, bool | int | float) and raw is not None:
                    value = type(current)(raw)
                setattr(self.settings, key, value)
            return self.describe()

    def describe(self) -> dict[str, Any]:
        data = asdict(self.settings)
        data["credit"] = f"{self.settings.credit:.2f}"
        data["apikey"] = "***"
        return data

    def clear(self) -> None:
        with self._lock:
            self.outbox.clear()
            self.requests.clear()

    def outbox_view(self) -> list[dict[str, Any]]:
        with self._lock:
            return [m.public() for m in self.outbox]

    # -- the API ------------------------------------------------------------------------------

    def handle(self, endpoint: str, params: Any) -> Answer:
        with self._lock:
            self.requests[endpoint] = self.requests.get(endpoint, 0) + 1
            handler = {
                "sendsms": self._sendsms,
                "sendotp": self._sendotp,
                "sendbulk": self._sendbulk,
                "getdlr": self._getdlr,
                "getbalance": self._getbalance,
            }.get(endpoint)
            if handler is None:
                return self._error(1010, "Unsupported request type")
            if not isinstance(params, Mapping):
                return self._error(1009, "Unsupported data type")
            # sendbulk carries the credentials inside each smslist entry, as documented.
            failure = None if endpoint == "sendbulk" else self._authenticate(params)
            if failure is not None:
                return failure
            return handler(params)

    def _authenticate(self, params: Mapping[str, Any]) -> Answer | None:
        if not str(params.get("partnerID") or "").strip():
            return self._error(4091, "No Partner ID is Set")
        if not str(params.get("apikey") or "").strip():
            return self._error(4092, "No API KEY Provided")
        if (
            str(params["apikey"]) != self.settings.apikey
            or str(params["partnerID"]) != self.settings.partner_id
        ):
            return self._error(1006, "Invalid credentials")
        return None

    @staticmethod
    def _error(code: int, description: str) -> Answer:
        return Answer(200, {"response-code": code, "response-description": description})

    def _entry(self, code: int, description: str, mobile: Any, index: int, **extra: Any) -> dict[str, Any]:
        wave = self.settings.dialect == "wavesms"
        key = "respose-code" if wave and index % 2 == 0 else "response-code"
        entry: dict[str, Any] = {key: code, "response-description": description, "mobile": mobile}
        for name, value in extra.items():
            if value is not None:
                entry[name] = str(value) if wave else value
        return entry

    def _wrap(self, entries: list[dict[str, Any]], scheduled: list[SentMessage]) -> Answer:
        body: Any = entries if self.settings.dialect == "wavesms" else {"responses": entries}
        return Answer(200, body, scheduled)

    def _check_text(self, message: Any) -> tuple[int, Answer | None]:
        if not isinstance(message, str) or not message:
            return 0, self._error(1010, "Unsupported request type: message is required")
        if is_gsm7(message):
            return count_parts(message), None
        if self.settings.unicode == "allow":
            return _ucs2_parts(message), None
        return 0, self._error(1009, "Unsupported data type: message is not GSM 03.38")

    def _accept(self, target: _Target, text: _Text) -> tuple[dict[str, Any], SentMessage | None]:
        raw = str(target.mobile).strip()
        is_hashed = text.route == "hashed"
        if (is_hashed and not HASHED_MSISDN.match(raw)) or (
            not is_hashed and (not _VALID_MSISDN.match(raw) or raw.endswith(INVALID_ENDING))
        ):
            return self._failed(1003, "Invalid mobile number", target), None
        if not is_hashed and raw.endswith(NETWORK_NOT_ALLOWED_ENDING):
            return self._failed(1002, "Network not allowed", target), None
        if self.settings.credit < text.parts:
            balance = f"{self.settings.credit:.2f}"
            description = (
                f"Low credit units to send message, Current balance {balance}, Required {text.parts}"
            )
            return self._failed(1004, description, target), None
        self.settings.credit -= text.parts
        now = self._clock()
        sent = SentMessage(
            messageid=str(next(self._ids)),
            mobile=raw.lower() if is_hashed else raw,
            message=text.message,
            shortcode=text.shortcode,
            route=text.route,
            parts=text.parts,
            time=datetime.fromtimestamp(now, EAT).strftime("%Y-%m-%d %H:%M:%S"),
            clientsmsid=None if target.clientsmsid is None else str(target.clientsmsid),
            network_id=1 if is_hashed else network_of(raw),
            scheduled_for=None if text.time_to_send in (None, "") else str(text.time_to_send),
            sent_at=now,
            report_at=now + self.settings.dlr_delay,
            outcome=self._outcome(raw, text),
        )
        self.messages[sent.messageid] = sent
        self.outbox.append(sent)
        number: Any = raw if is_hashed or self.settings.dialect == "wavesms" else int(raw)
        entry = self._entry(
            200,
            "Success",
            number,
            target.index,
            messageid=int(sent.messageid),
            networkid=sent.network_id,
            clientsmsid=target.clientsmsid,
        )
        return entry, sent

    def _outcome(self, number: str, text: _Text) -> str:
        promotional = text.shortcode == self.settings.promotional_shortcode
        if promotional and number in self.settings.opted_out:
            return "SenderName Blacklisted"
        return OUTCOMES.get(number[-3:], "DeliveredToTerminal")

    def _failed(self, code: int, description: str, target: _Target) -> dict[str, Any]:
        # The platform echoes the number as sent and, in sendbulk, the request fields, credentials included.
        entry = self._entry(code, description, target.mobile, target.index, clientsmsid=target.clientsmsid)
        if target.echo:
            entry.update({k: v for k, v in target.echo.items() if k not in entry})
        return entry

    def _sender_ok(self, shortcode: Any) -> bool:
        # Case-sensitive, exactly as assigned: the transactional ID or the promotional one.
        return bool(shortcode in (self.settings.shortcode, self.settings.promotional_shortcode))

    def _sendsms(self, params: Mapping[str, Any], route: str = "sendsms") -> Answer:
        if not self._sender_ok(params.get("shortcode")):
            return self._error(1001, "Invalid sender id")
        parts, failure = self._check_text(params.get("message"))
        if failure:
            return failure
        mobiles = [m.strip() for m in str(params.get("mobile") or "").split(",") if m.strip()]
        if not mobiles:
            return self._error(1003, "Invalid mobile number")
        if len(mobiles) > self.settings.comma_limit:
            return self._error(1104, "Too many comma separated contacts")
        if route == "sendotp" and len(mobiles) > 1:
            return self._error(1010, "Unsupported request type: one number per OTP")
        if route == "sendotp" and params.get("hashed") in (True, "true", "1", 1):
            route = "hashed"
        text = _Text(str(params["message"]), parts, str(params["shortcode"]), route, params.get("timeToSend"))
        entries, scheduled = [], []
        for index, mobile in enumerate(mobiles):
            entry, sent = self._accept(_Target(mobile, index), text)
            entries.append(entry)
            if sent:
                scheduled.append(sent)
        return self._wrap(entries, scheduled)

    def _sendotp(self, params: Mapping[str, Any]) -> Answer:
        return self._sendsms(params, route="sendotp")

    def _sendbulk(self, params: Mapping[str, Any]) -> Answer:
        smslist = params.get("smslist")
        if not isinstance(smslist, list) or not smslist:
            return self._error(1009, "Unsupported data type: smslist must be a list")
        if len(smslist) > self.settings.bulk_limit:
            return self._error(1012, "Too Many messages on SMS LIST")
        entries, scheduled = [], []
        for index, item in enumerate(smslist):
            if not isinstance(item, Mapping):
                entries.append(self._entry(1009, "Unsupported data type", None, index))
                continue
            target = _Target(item.get("mobile"), index, item.get("clientsmsid"), item)
            failure = self._authenticate(item)
            if failure is None and not self._sender_ok(item.get("shortcode")):
                failure = self._error(1001, "Invalid sender id")
            parts = 0
            if failure is None:
                parts, failure = self._check_text(item.get("message"))
            if failure is not None:
                body = failure.body
                entries.append(self._failed(body["response-code"], body["response-description"], target))
                continue
            text = _Text(str(item["message"]), parts, str(item["shortcode"]), "sendbulk")
            entry, sent = self._accept(target, text)
            entries.append(entry)
            if sent:
                scheduled.append(sent)
        return self._wrap(entries, scheduled)

    def _getdlr(self, params: Mapping[str, Any]) -> Answer:
        message = self.messages.get(str(params.get("messageID") or params.get("messageid") or "").strip())
        if message is None:
            return self._error(4093, "Details Not Found")
        if self._clock() < message.report_at:
            return self._error(1009, "No dlr")  # as the documented sample answers
        delivered = datetime.fromtimestamp(message.report_at, EAT)
        return Answer(
            200,
            {
                "response-code": 200,
                "message-id": message.messageid,
                "response-description": "Success",
                "delivery-status": 32 if message.outcome == "DeliveredToTerminal" else 4,
                "delivery-description": message.outcome,
                "delivery-tat": str(timedelta(seconds=int(self.settings.dlr_delay))).rjust(8, "0"),
                "delivery-networkid": message.network_id,
                "delivery-time": delivered.strftime("%Y-%m-%d %H:%M:%S"),
            },
        )

    def _getbalance(self, params: Mapping[str, Any]) -> Answer:
        return Answer(
            200,
            {
                "response-code": 200,
                "credit": f"{self.settings.credit:.2f}",
                "partner-id": self.settings.partner_id,
            },
        )
