"""The provider's answers, read leniently: every variant the white-label brands produce parses.

Seen in the wild: `response-code` and `respose-code` (sic) in one array, a bare array without the
`responses` wrapper, numbers as strings and strings as numbers, HTML from a proxy on 502, an empty
200. Nothing here keeps a raw answer: echoed credentials must not travel further.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from tuma.formatting.clock import parse_time
from tuma.formatting.money import parse_amount
from tuma.models.provider_codes import Disposition, classify, describe
from tuma.models.validation import AsText, as_text
from tuma.security.redaction import scrub_text

_CODE = AliasChoices("response-code", "respose-code", "responseCode", "response_code", "ResponseCode")
_DESCRIPTION = AliasChoices(
    "response-description", "respose-description", "responseDescription", "response_description"
)


class ProviderError(Exception):
    """A whole request failed. The message never contains credentials or the raw answer."""

    def __init__(
        self,
        disposition: Disposition,
        description: str,
        code: int | None = None,
        http_status: int | None = None,
        maybe_accepted: bool = False,
    ) -> None:
        self.disposition = disposition
        self.description = scrub_text(description)[:200]
        self.code = code
        self.http_status = http_status
        # Some attempt's request may have reached the provider without its answer reaching us.
        self.maybe_accepted = maybe_accepted
        super().__init__(f"{code if code is not None else 'no code'}: {self.description}")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class RecipientAnswer(_Lenient):
    """One entry of a send answer: the fate of one recipient (or one `sendbulk` message)."""

    code: int = Field(validation_alias=_CODE)
    description: str = Field(default="", validation_alias=_DESCRIPTION)
    mobile: AsText | None = None
    message_id: AsText | None = Field(
        default=None, validation_alias=AliasChoices("messageid", "messageId", "message-id")
    )
    network_id: AsText | None = Field(default=None, validation_alias=AliasChoices("networkid", "networkId"))
    client_sms_id: AsText | None = Field(
        default=None, validation_alias=AliasChoices("clientsmsid", "clientSmsId")
    )

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> Any:
        # Brands echo request fields into descriptions too: scrub before anything keeps the text.
        return "" if value is None else scrub_text(str(as_text(value)))

    @property
    def disposition(self) -> Disposition:
        return classify(self.code)


class DeliveryReport(_Lenient):
    """`getdlr`: the network's verdict on one message. Times are EAT without a zone."""

    code: int = Field(validation_alias=_CODE)
    message_id: AsText | None = Field(
        default=None, validation_alias=AliasChoices("message-id", "messageid", "messageId")
    )
    status_code: int | None = Field(
        default=None, validation_alias=AliasChoices("delivery-status", "deliveryStatus")
    )
    status: str = Field(
        default="", validation_alias=AliasChoices("delivery-description", "deliveryDescription")
    )
    turnaround: AsText | None = Field(
        default=None, validation_alias=AliasChoices("delivery-tat", "deliveryTat")
    )
    network_id: AsText | None = Field(
        default=None, validation_alias=AliasChoices("delivery-networkid", "networkid")
    )
    delivered_at: datetime | None = Field(
        default=None, validation_alias=AliasChoices("delivery-time", "deliveryTime")
    )

    @field_validator("delivered_at", mode="before")
    @classmethod
    def _eat(cls, value: Any) -> Any:
        return parse_time(value) if value not in (None, "") else None


class Balance(_Lenient):
    code: int = Field(validation_alias=_CODE)
    credit: Decimal
    partner_id: AsText | None = Field(
        default=None, validation_alias=AliasChoices("partner-id", "partnerID", "partnerId")
    )

    @field_validator("credit", mode="before")
    @classmethod
    def _credit(cls, value: Any) -> Any:
        return parse_amount(value, positive=False)


def code_of(payload: dict[str, Any]) -> int | None:
    for key in _CODE.choices:
        if isinstance(key, str) and key in payload:
            try:
                return int(payload[key])
            except (TypeError, ValueError):
                return None
    return None


def read_answer(http_status: int, body: bytes) -> Any:
    """The JSON of a successful call; a ProviderError for anything else, classified for the caller."""
    if http_status >= 500 or http_status == 429:
        disposition = Disposition.RETRY if http_status >= 500 else Disposition.RETRY_LATER
        raise ProviderError(disposition, f"HTTP {http_status} from the provider", http_status=http_status)
    if http_status in (401, 403):
        raise ProviderError(
            Disposition.CONFIG,
            f"HTTP {http_status}: the provider refused this caller (is the egress IP allowlisted?)",
            http_status=http_status,
        )
    if http_status >= 400:
        raise ProviderError(
            Disposition.CONFIG,
            f"HTTP {http_status} from the provider (check SMS_API_BASE_URL)",
            http_status=http_status,
        )
    if not body.strip():
        raise ProviderError(Disposition.RETRY, "empty answer from the provider", http_status=http_status)
    try:
        payload = json.loads(body)
    except ValueError:
        raise ProviderError(Disposition.RETRY, "answer was not JSON", http_status=http_status) from None
    if isinstance(payload, dict) and "responses" not in payload:
        code = code_of(payload)
        if code is not None and code != 200:
            description = payload.get("response-description") or payload.get("respose-description")
            text = str(description) if isinstance(description, str | int) else describe(code)
            raise ProviderError(classify(code), text, code=code, http_status=http_status)
    return payload


def read_send_answer(payload: Any) -> list[RecipientAnswer]:
    """Entries of a send answer, wrapped or bare; unreadable entries are dropped (their messages retry)."""
    if isinstance(payload, dict) and isinstance(payload.get("responses"), list):
        entries = payload["responses"]
    elif isinstance(payload, list):
        entries = payload
    elif isinstance(payload, dict) and code_of(payload) is not None:
        entries = [payload]  # a single-recipient answer without the array
    else:
        raise ProviderError(Disposition.RETRY, "send answer had no responses")
    answers = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        try:
            answers.append(RecipientAnswer.model_validate(entry))
        except ValidationError:
            continue
    return answers
