"""The provider client: POST with JSON, retries only where they help, lists split to the brand's limits.

Send methods never raise for a provider answer: they return one SendResult per message or recipient,
classified, so that a caller can treat each recipient on its own. Reads (`get_dlr`, `get_balance`)
raise ProviderError.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tuma.batching import chunked
from tuma.models.http import HttpFailure
from tuma.models.provider_answers import (
    Balance,
    DeliveryReport,
    ProviderError,
    RecipientAnswer,
    read_answer,
    read_send_answer,
)
from tuma.models.provider_codes import Disposition, meaning
from tuma.models.provider_credentials import Credentials
from tuma.models.sending import BulkMessage, SendResult
from tuma.ports import BalanceReader, CredentialSource, Http, Sender
from tuma.provider.limits import BulkLimit

log = logging.getLogger(__name__)

HEADERS = {
    "User-Agent": "tuma/0.1 (+https://github.com/tuma-sms/tuma)",
    "Accept": "application/json",
    "Content-Type": "application/json",
}


@dataclass(frozen=True)
class RetryPolicy:
    """Immediate retries inside one call, for transient failures only; queues handle the longer waits."""

    attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 2.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * float(1 << attempt))
        return ceiling * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security


def result_of(answer: RecipientAnswer) -> SendResult:
    return SendResult(
        answer.disposition, answer.description[:200], answer.code, answer.message_id, answer.network_id
    )


def failure_of(error: ProviderError) -> SendResult:
    return SendResult(error.disposition, error.description, error.code, maybe_accepted=error.maybe_accepted)


# The provider answered without naming the message: it may have taken it.
NO_ENTRY = SendResult(
    Disposition.RETRY, "the provider's answer had no entry for this message", maybe_accepted=True
)
# Refused before any call: the credentials have no promotional sender ID.
NO_PROMOTIONAL_ID = SendResult(
    Disposition.REJECT,
    "no promotional sender ID: add promotional_shortcode to the provider credentials secret",
)


class ProviderClient(Sender, BalanceReader):
    def __init__(
        self,
        base_url: str,
        credentials: CredentialSource,
        http: Http,
        *,
        bulk_limit: int | BulkLimit = 100,
        comma_limit: int = 1000,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        time_left: Callable[[], float] | None = None,
    ) -> None:
        self._base = base_url.rstrip("/") + "/api/services/"
        self._credentials = credentials
        self._http = http
        # What the brand taught about its sendbulk limit, kept across invocations when given a store.
        self.bulk = bulk_limit if isinstance(bulk_limit, BulkLimit) else BulkLimit(bulk_limit)
        self.comma_limit = comma_limit
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._time_left = time_left
        self.calls = 0  # HTTP requests made; read by metrics and benchmarks

    # -- sending --------------------------------------------------------------------------------

    def send_sms(
        self, mobiles: Sequence[str], message: str, *, time_to_send: str | None = None
    ) -> dict[str, SendResult]:
        """One text to many numbers (comma list); results by number as given (already normalised)."""
        results: dict[str, SendResult] = {}
        for chunk in chunked(list(mobiles), self.comma_limit):
            results.update(self._sms_chunk(list(chunk), message, time_to_send))
        return results

    def _sms_chunk(self, mobiles: list[str], message: str, time_to_send: str | None) -> dict[str, SendResult]:
        def body(creds: Credentials) -> dict[str, Any]:
            out = self._auth(creds) | {
                "message": message,
                "shortcode": creds.shortcode,
                "mobile": ",".join(mobiles),
            }
            if time_to_send:
                out["timeToSend"] = time_to_send
            return out

        try:
            answers = read_send_answer(self._post("sendsms", body))
        except ProviderError as error:
            if error.disposition is Disposition.SPLIT and len(mobiles) > 1:
                self.comma_limit = max(1, len(mobiles) // 2)
                half = len(mobiles) // 2
                return self._sms_chunk(mobiles[:half], message, time_to_send) | self._sms_chunk(
                    mobiles[half:], message, time_to_send
                )
            return dict.fromkeys(mobiles, failure_of(error))
        by_mobile = {_digits(a.mobile): a for a in answers if a.mobile}
        if len(mobiles) == 1 and len(answers) == 1:
            by_mobile = {mobiles[0]: answers[0]}
        return {m: result_of(by_mobile[m]) if m in by_mobile else NO_ENTRY for m in mobiles}

    def send_otp(
        self, mobile: str, message: str, *, hashed: bool = False, pinned: str | None = None
    ) -> SendResult:
        """The transactional route; with `hashed` the number is Safaricom's SHA-256 of the 254 form.

        `pinned` names the provider that must carry it; one client is one provider, so it is moot here."""

        def body(creds: Credentials) -> dict[str, Any]:
            out = self._auth(creds) | {"message": message, "shortcode": creds.shortcode, "mobile": mobile}
            if hashed:
                out["hashed"] = True
            return out

        try:
            answers = read_send_answer(self._post("sendotp", body))
        except ProviderError as error:
            return failure_of(error)
        return result_of(answers[0]) if answers else NO_ENTRY

    def send_bulk(self, messages: Sequence[BulkMessage]) -> dict[str, SendResult]:
        """Distinct texts in as few calls as the brand's list limit allows; results by clientsmsid.
        A promotion without a promotional sender ID is refused here, before any call."""
        results: dict[str, SendResult] = {}
        pending = list(messages)
        if any(m.promotional for m in pending) and self._credentials.get().promotional_shortcode is None:
            results = {m.client_sms_id: NO_PROMOTIONAL_ID for m in pending if m.promotional}
            pending = [m for m in pending if not m.promotional]
        while pending:
            size = self.bulk.size(len(pending))
            chunk, pending = pending[:size], pending[size:]
            results.update(self._bulk_chunk(chunk))
        return results

    def _bulk_chunk(self, chunk: list[BulkMessage], refreshed: bool = False) -> dict[str, SendResult]:
        def body(creds: Credentials) -> dict[str, Any]:
            auth = self._auth(creds)
            return {
                "count": len(chunk),
                "smslist": [
                    auth
                    | {
                        "pass_type": "plain",
                        "clientsmsid": m.client_sms_id,
                        "mobile": m.mobile,
                        "message": m.message,
                        # Never the transactional ID for a promotion, even if the secret changed
                        # since send_bulk looked: without one the provider refuses it (1001).
                        "shortcode": creds.promotional_shortcode if m.promotional else creds.shortcode,
                    }
                    for m in chunk
                ],
            }

        try:
            answers = read_send_answer(self._post("sendbulk", body))
        except ProviderError as error:
            if error.disposition is Disposition.SPLIT and len(chunk) > 1:
                size = self.bulk.refused(len(chunk))
                log.warning("provider refused %d messages in one sendbulk; trying %d", len(chunk), size)
                split: dict[str, SendResult] = {}
                for part in chunked(chunk, size):
                    split.update(self._bulk_chunk(list(part)))
                return split
            return {m.client_sms_id: failure_of(error) for m in chunk}
        self.bulk.passed(len(chunk))
        by_id = match_answers(chunk, answers)
        results = {
            m.client_sms_id: result_of(by_id[m.client_sms_id]) if m.client_sms_id in by_id else NO_ENTRY
            for m in chunk
        }
        # sendbulk authenticates each entry, so a rotated key shows up as 1006 per entry.
        stale = [m for m in chunk if results[m.client_sms_id].disposition is Disposition.CREDENTIALS]
        if stale and not refreshed:
            self._credentials.refresh()
            results.update(self._bulk_chunk(stale, refreshed=True))
        return results

    # -- reading --------------------------------------------------------------------------------

    def get_dlr(self, message_id: str) -> DeliveryReport | None:
        """The delivery report of one message, or None when the network has not reported yet."""
        try:
            payload = self._post("getdlr", lambda creds: self._auth(creds) | {"messageID": message_id})
        except ProviderError as error:
            if meaning(error.code).no_report_yet:
                return None
            raise
        return DeliveryReport.model_validate(payload)

    def get_balance(self) -> Balance:
        return Balance.model_validate(self._post("getbalance", self._auth))

    # -- transport ------------------------------------------------------------------------------

    @staticmethod
    def _auth(creds: Credentials) -> dict[str, Any]:
        return {"apikey": creds.apikey.get_secret_value(), "partnerID": creds.partner_id}

    def _post(self, endpoint: str, body: Callable[[Credentials], dict[str, Any]]) -> Any:
        refreshed = False
        attempt = 0
        ambiguous = False
        while True:
            started = time.monotonic()
            try:
                creds = self._credentials.get()
                self.calls += 1
                content = json.dumps(body(creds), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
                answer = self._http.post(self._base + endpoint, content.encode(), HEADERS)
                payload = read_answer(answer.status, answer.content)
            except HttpFailure as exc:
                ambiguous = ambiguous or exc.maybe_sent
                error = ProviderError(Disposition.RETRY, f"transport error: {exc.kind}")
            except ProviderError as exc:
                error = exc
            else:
                log.debug("provider %s answered in %.0f ms", endpoint, (time.monotonic() - started) * 1000)
                return payload
            log.info(
                "provider %s failed: %s (%s)",
                endpoint,
                error.description,
                error.code or error.http_status or "-",
            )
            if error.disposition is Disposition.CREDENTIALS and not refreshed:
                refreshed = True
                self._credentials.refresh()
                continue
            attempt += 1
            if error.disposition is Disposition.RETRY and attempt < self._retry.attempts:
                delay = self._retry.delay(attempt - 1)
                if self._time_left is None or self._time_left() > delay + 15:
                    self._sleep(delay)
                    continue
            error.maybe_accepted = ambiguous
            raise error


def match_answers(
    chunk: Sequence[BulkMessage], answers: Sequence[RecipientAnswer]
) -> dict[str, RecipientAnswer]:
    """Each `sendbulk` answer entry matched to its message.

    By clientsmsid first. Brands drop it from some entries (one answer may mix both kinds, the
    failed ones echoing only the number), so the rest are matched by number, and what is still
    open, in request order. A message left unmatched is retried (its claim is released).
    """
    ours = {m.client_sms_id for m in chunk}
    matched: dict[str, RecipientAnswer] = {}
    loose: list[RecipientAnswer] = []
    for answer in answers:
        if answer.client_sms_id in ours and answer.client_sms_id not in matched:
            matched[answer.client_sms_id] = answer
        else:
            loose.append(answer)
    open_messages = [m for m in chunk if m.client_sms_id not in matched]
    unplaced: list[RecipientAnswer] = []
    for answer in loose:
        number = _digits(answer.mobile or "")
        same = next((m for m in open_messages if number and _digits(m.mobile) == number), None)
        if same is None:
            unplaced.append(answer)
            continue
        matched[same.client_sms_id] = answer
        open_messages.remove(same)
    if unplaced and len(unplaced) == len(open_messages):
        matched.update({m.client_sms_id: a for m, a in zip(open_messages, unplaced, strict=True)})
    return matched


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())
