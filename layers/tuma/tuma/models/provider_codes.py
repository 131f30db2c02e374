"""What every provider answer code means, in one table that every reader takes it from: the client
(retry, split, refresh the key, "no report yet"), the failover breaker (is the provider down?), the
dispatcher (how long a message waits, which alarm an operator sees) and the settings that size waits.

Changing a code's row changes all of them together, and nothing else does.
"""

from __future__ import annotations

from dataclasses import dataclass
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


# The metrics that page an operator when a send meets these codes (template.yaml's alarms read them).
CONFIGURATION_ALARM = "ProviderConfigurationErrors"
CREDIT_ALARM = "LowCredit"


@dataclass(frozen=True)
class Meaning:
    description: str
    disposition: Disposition  # what becomes of the message: sent, again now, later, never, split...
    outage: bool = False  # the provider, not the message, is at fault: counts towards failover
    own_wait: bool = False  # the provider's own "come back in N minutes": another provider need not wait
    no_report_yet: bool = False  # in a getdlr answer: the network has not reported yet
    alarm: str | None = None  # the metric an operator is alarmed by when a send meets it


_SETUP = CONFIGURATION_ALARM
CODES: dict[int, Meaning] = {
    200: Meaning("Success", Disposition.SUCCESS),
    1001: Meaning("Invalid sender id", Disposition.CONFIG, alarm=_SETUP),
    1002: Meaning("Network not allowed", Disposition.REJECT),
    1003: Meaning("Invalid mobile number", Disposition.REJECT),
    1004: Meaning("Low bulk credits", Disposition.RETRY_LATER, alarm=CREDIT_ALARM),
    1005: Meaning("System error", Disposition.RETRY, outage=True),
    1006: Meaning("Invalid credentials", Disposition.CREDENTIALS, alarm=_SETUP),
    1007: Meaning("System error", Disposition.RETRY, outage=True),
    1008: Meaning("No delivery report", Disposition.PENDING, no_report_yet=True),
    # The code list says "Unsupported data type"; the documented getdlr sample answers 1009 "No dlr".
    1009: Meaning("Unsupported data type", Disposition.CONFIG, no_report_yet=True, alarm=_SETUP),
    1010: Meaning("Unsupported request type", Disposition.CONFIG, alarm=_SETUP),
    1012: Meaning("Too many messages in smslist", Disposition.SPLIT),
    1104: Meaning("Too many comma separated contacts", Disposition.SPLIT),
    4090: Meaning(
        "Internal error, try again after 5 minutes", Disposition.RETRY_LATER, outage=True, own_wait=True
    ),
    4091: Meaning("No partner id is set", Disposition.CONFIG, alarm=_SETUP),
    4092: Meaning("No api key provided", Disposition.CONFIG, alarm=_SETUP),
    4093: Meaning("Details not found", Disposition.NOT_FOUND),
}

# No code at all (a transport error, an HTTP 5xx, an answer without an entry for the message), and
# codes never seen in the documentation: retried, and counted as the provider being down. Losing a
# receipt to an unknown code is worse than a retry that ends in the dead-letter queue.
NO_CODE = Meaning("No answer code", Disposition.RETRY, outage=True)


def meaning(code: int | None) -> Meaning:
    if code is None:
        return NO_CODE
    return CODES.get(code) or Meaning(f"Unknown code {code}", NO_CODE.disposition, outage=NO_CODE.outage)


def classify(code: int | None) -> Disposition:
    return meaning(code).disposition


def describe(code: int) -> str:
    return meaning(code).description
