"""Daraja over HTTP: OAuth, Register URL (v1 or v2), Pull Transactions, Transaction Status.

Implements `tuma.ports.DarajaPull` and `tuma.ports.DarajaSetup`. Answers are read tolerantly, since
Daraja's own documents disagree on shapes (codes as numbers or strings, rows nested in lists or
sent as a JSON string); what cannot be read is a `DarajaFailure`, never a guess.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tuma.daraja.tokens import Token, TokenCache
from tuma.formatting.clock import EAT
from tuma.models.daraja import DarajaFailure, PullTimes, Registration
from tuma.models.http import HttpFailure
from tuma.ports import DarajaPull, DarajaSetup

if TYPE_CHECKING:
    from tuma.models.daraja_credentials import DarajaCredentials
    from tuma.ports import Http, StateStore

log = logging.getLogger(__name__)
OAUTH_PATH = "/oauth/v1/generate?grant_type=client_credentials"
PULL_QUERY_PATH = "/pulltransactions/v1/query"
PULL_REGISTER_PATH = "/pulltransactions/v1/register"
STATUS_PATH = "/mpesa/transactionstatus/v1/query"
VERSIONS = ("v1", "v2")
# Where a Pull answer keeps its rows, by the spellings seen in Safaricom's pages and in the wild.
_ROW_KEYS = ("Response", "Transaction", "Transactions", "response", "transactions")
_MAX_PAGE_ROWS = 10_000

# What Daraja's refusals of a registration usually mean, and what mends them.
ALREADY_REGISTERED = "500.003.1001"
NO_PRODUCT_MATCH = "401.003.01"


def daraja_time(moment: datetime, times: PullTimes = PullTimes.KENYA) -> str:
    """Pull's StartDate/EndDate: `YYYY-MM-DD HH:MM:SS`, on the clock Daraja keeps (DARAJA_PULL_TIMES)."""
    return moment.astimezone(UTC if times is PullTimes.UTC else EAT).strftime("%Y-%m-%d %H:%M:%S")


def register_url_path(version: str) -> str:
    if version not in VERSIONS:
        raise ValueError(f"Register URL version must be v1 or v2, not {version!r}")
    return f"/mpesa/c2b/{version}/registerurl"


class DarajaClient(DarajaPull, DarajaSetup):
    def __init__(
        self,
        base_url: str,
        credentials: Callable[[], DarajaCredentials],
        http: Http,
        store: StateStore | None = None,
        *,
        clock: Callable[[], float] | None = None,
        times: PullTimes = PullTimes.KENYA,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._times = times
        self._credentials = credentials
        self._http = http
        extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
        self.tokens = TokenCache(
            self._fetch_token, store, name=f"daraja-token#{urlsplit(self._base).netloc}", **extra
        )

    # -- the API ---------------------------------------------------------------------------------

    def pull(self, short_code: str, start: datetime, end: datetime, offset: int) -> list[dict[str, Any]]:
        status, body = self._call(
            PULL_QUERY_PATH,
            {
                "ShortCode": short_code,
                "StartDate": daraja_time(start, self._times),
                "EndDate": daraja_time(end, self._times),
                "OffSetValue": str(offset),
            },
        )
        code = _code(body, "ResponseCode", "responseCode", "ResponseStatus")
        # Safaricom's support finds a query by its ResponseRefID: kept in the log, page by page.
        log.info(
            "Pull %s offset %d: %s (ResponseRefID %s)", short_code, offset, code, _code(body, "ResponseRefID")
        )
        if code == "1001":
            return []  # "no transactions available for the selected time period"
        if status != 200 or code not in ("1000", "0"):
            raise DarajaFailure("refused", _description(body) or f"HTTP {status}", code or _error_code(body))
        rows = _rows(body)
        if rows is None:
            raise DarajaFailure("unreadable", "the answer has no list of transactions", code)
        return rows

    def register_urls(
        self, short_code: str, version: str, response_type: str, confirmation_url: str, validation_url: str
    ) -> Registration:
        status, body = self._call(
            register_url_path(version),
            {
                "ShortCode": short_code,
                "ResponseType": response_type,
                "ConfirmationURL": confirmation_url,
                "ValidationURL": validation_url,
            },
            retry_unauthorised=False,  # a 401 here is usually the product, not the token
        )
        code = _code(body, "ResponseCode") or _error_code(body)
        description = _description(body) or f"HTTP {status}"
        if status == 200 and code == "0":
            return Registration("registered", description, code)
        if code == ALREADY_REGISTERED or "already registered" in description.lower():
            return Registration("already registered", description, code)
        other = "v1" if version == "v2" else "v2"
        fixes = {
            NO_PRODUCT_MATCH: (
                f"the Daraja app has the other Register URL product: set DarajaRegisterUrlVersion={other} "
                f"(tuma daraja register --version {other})"
            ),
            "400.003.02": "Daraja refused the request: check the short code and that every URL is https",
            "401.001": "the consumer key or secret is wrong (Daraja secret)",
        }
        return Registration("refused", description, code, fixes.get(code or "", _generic_fix(status)))

    def register_pull(self, short_code: str, nominated_number: str, callback_url: str) -> Registration:
        status, body = self._call(
            PULL_REGISTER_PATH,
            {
                "ShortCode": short_code,
                "RequestType": "Pull",
                "NominatedNumber": nominated_number,
                "CallBackURL": callback_url,
            },
            retry_unauthorised=False,
        )
        code = _code(body, "ResponseStatus", "ResponseCode") or _error_code(body)
        description = _description(body) or f"HTTP {status}"
        if code == "1000":
            return Registration("registered", description, code)
        if code == "1001" or "already" in description.lower():
            return Registration("already registered", description, code)
        fix = {
            "400.001": "Safaricom does not know this short code for Pull: it must be live in production",
        }.get(code or "", _generic_fix(status))
        return Registration("refused", description, code, fix)

    def ask_status(self, receipt: str, short_code: str, result_url: str) -> Registration:
        credentials = self._credentials()
        if not credentials.can_query_status:
            return Registration(
                "refused",
                "no initiator configured",
                None,
                "put initiator_name and security_credential (Transaction Status) in the Daraja secret",
            )
        assert credentials.security_credential is not None
        status, body = self._call(
            STATUS_PATH,
            {
                "Initiator": credentials.initiator_name,
                "SecurityCredential": credentials.security_credential.get_secret_value(),
                "CommandID": "TransactionStatusQuery",
                "TransactionID": receipt,
                "PartyA": short_code,
                "IdentifierType": "4",
                "ResultURL": result_url,
                "QueueTimeOutURL": result_url,
                "Remarks": "Tuma receipt check",
                # Echoed back in the result's ReferenceData: what the answer is about, whatever it says.
                "Occasion": receipt,
            },
        )
        code = _code(body, "ResponseCode") or _error_code(body)
        description = _description(body) or f"HTTP {status}"
        if status == 200 and code == "0":
            return Registration(
                "accepted",
                description,
                code,
                originator_conversation_id=_code(body, "OriginatorConversationID"),
                conversation_id=_code(body, "ConversationID"),
            )
        return Registration("refused", description, code, _generic_fix(status))

    # -- plumbing --------------------------------------------------------------------------------

    def _fetch_token(self) -> Token:
        credentials = self._credentials()
        basic = base64.b64encode(
            f"{credentials.consumer_key.get_secret_value()}:{credentials.consumer_secret.get_secret_value()}".encode()
        ).decode()
        try:
            answer = self._http.get(self._base + OAUTH_PATH, {"Authorization": f"Basic {basic}"})
        except HttpFailure as failure:
            raise DarajaFailure("unreachable", f"OAuth: {failure.kind}") from None
        body = _json(answer.content) or {}
        value = body.get("access_token")
        if answer.status != 200 or not isinstance(value, str) or not value:
            raise DarajaFailure(
                "oauth", f"no token (HTTP {answer.status}): {_description(body) or 'unreadable answer'}"
            )
        try:
            lifetime = float(str(body.get("expires_in", 3599)))
        except ValueError:
            lifetime = 3599.0
        return Token(value, time.time() + lifetime)

    def _call(
        self, path: str, payload: dict[str, Any], *, retry_unauthorised: bool = True
    ) -> tuple[int, dict[str, Any]]:
        attempts = 2 if retry_unauthorised else 1
        for attempt in range(1, attempts + 1):
            token = self.tokens.get()
            try:
                answer = self._http.post(
                    self._base + path,
                    json.dumps(payload).encode(),
                    {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                )
            except HttpFailure as failure:
                raise DarajaFailure("unreachable", failure.kind) from None
            body = _json(answer.content)
            if body is None:
                raise DarajaFailure("unreadable", f"HTTP {answer.status}, not JSON")
            if answer.status != 401 or attempt == attempts:
                return answer.status, body
            # An expired or revoked token: forget it everywhere and try once with a new one.
            self.tokens.invalidate(token)
        raise AssertionError("the loop always returns")


def _json(content: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _code(body: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = body.get(name)
        if value not in (None, ""):
            return str(value).strip()
    return None


def _error_code(body: dict[str, Any]) -> str | None:
    return _code(body, "errorCode", "ErrorCode")


def _description(body: dict[str, Any]) -> str:
    for name in ("ResponseDescription", "ResponseMessage", "errorMessage", "ResultDesc", "error_description"):
        value = body.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[:300]
    return ""


def _generic_fix(status: int) -> str | None:
    if status >= 500:
        return "Daraja had a problem: try again later"
    if status in (401, 403):
        return "check the consumer key and secret, and that the app has this API's product"
    return None


def _rows(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The transactions of a Pull answer, flattened out of however many lists hold them."""
    for key in _ROW_KEYS:
        if key not in body:
            continue
        value = body[key]
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return None
        found: list[dict[str, Any]] = []
        pending = [value]
        while pending:
            item = pending.pop()
            if isinstance(item, dict):
                found.append(item)
            elif isinstance(item, list):
                pending.extend(reversed(item))
            elif item is not None:
                return None  # a row that is neither an object nor a list of them
            if len(found) > _MAX_PAGE_ROWS:
                return None
        return found
    return None
