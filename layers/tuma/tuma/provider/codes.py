"""What every provider code means for the caller: send again now, later, never, or fix the setup."""

from __future__ import annotations

from enum import StrEnum


class Disposition(StrEnum):
    SUCCESS = "success"
    RETRY = "retry"  # transient: retry with backoff
    RETRY_LATER = "retry_later"  # provider asks for minutes (4090) or credit must be topped up (1004)
    REJECT = "reject"  # this recipient can never succeed
    SPLIT = "split"  # the request carried too many messages or contacts
    CONFIG = "config"  # sender id, partner id, request shape: an operator must act
    CREDENTIALS = "credentials"  # the apikey may have been rotated: refresh once, then alarm
    PENDING = "pending"  # no delivery report yet
    NOT_FOUND = "not_found"


CODES: dict[int, tuple[str, Disposition]] = {
    200: ("Success", Disposition.SUCCESS),
    1001: ("Invalid sender id", Disposition.CONFIG),
    1002: ("Network not allowed", Disposition.REJECT),
    1003: ("Invalid mobile number", Disposition.REJECT),
    1004: ("Low bulk credits", Disposition.RETRY_LATER),
    1005: ("System error", Disposition.RETRY),
    1006: ("Invalid credentials", Disposition.CREDENTIALS),
    1007: ("System error", Disposition.RETRY),
    1008: ("No delivery report", Disposition.PENDING),
    1009: ("Unsupported data type", Disposition.CONFIG),
    1010: ("Unsupported request type", Disposition.CONFIG),
    1012: ("Too many messages in smslist", Disposition.SPLIT),
    1104: ("Too many comma separated contacts", Disposition.SPLIT),
    4090: ("Internal error, try again after 5 minutes", Disposition.RETRY_LATER),
    4091: ("No partner id is set", Disposition.CONFIG),
    4092: ("No api key provided", Disposition.CONFIG),
    4093: ("Details not found", Disposition.NOT_FOUND),
}

# Codes never seen in the documentation are retried: losing a receipt to an unknown code is worse
# than a retry that ends in the dead-letter queue, where an operator will look.
UNKNOWN = Disposition.RETRY


def classify(code: int | None) -> Disposition:
    if code is None:
        return Disposition.RETRY
    return CODES.get(code, ("", UNKNOWN))[1]


def describe(code: int) -> str:
    return CODES.get(code, (f"Unknown code {code}", UNKNOWN))[0]
