"""What Daraja answers Tuma's own requests (registration, Transaction Status), and its failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# How long Tuma waits for the answer to a Transaction Status request; later, it is not taken.
STATUS_QUERY_PATIENCE = timedelta(hours=1)


class DarajaFailure(Exception):
    """Daraja did not do what was asked: no answer, a refusal, or an answer that cannot be read.
    `kind` is a short name for logs and metrics; `code` is Daraja's own when it gave one."""

    def __init__(self, kind: str, description: str, code: str | None = None) -> None:
        super().__init__(f"{kind}: {description}")
        self.kind = kind
        self.description = description
        self.code = code


@dataclass(frozen=True)
class Registration:
    """What Daraja said to one registration (or to one Transaction Status request)."""

    outcome: str  # "registered" | "already registered" | "accepted" | "refused"
    description: str
    code: str | None = None
    fix: str | None = None  # for a refusal: what usually mends it
    # A Transaction Status request Daraja accepted: the ids its answer will carry back.
    originator_conversation_id: str | None = None
    conversation_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome != "refused"


@dataclass(frozen=True)
class StatusQuery:
    """A Transaction Status request Tuma made: only its answer, once and in time, is taken."""

    receipt: str
    originator_conversation_id: str
    conversation_id: str
    asked_at: datetime
    expires_at: datetime


class PullTimes(StrEnum):
    """How a row's `trxDate` is read (DarajaPullTimes). Safaricom's sample writes `…Z`, but
    integrators report Kenyan time throughout, `Z` or not; an explicit other offset is always
    honoured as written."""

    KENYA = "kenya"  # the clock of `trxDate` is Kenyan time, whatever suffix it carries
    UTC = "utc"  # a `Z` means what it says
