"""What Daraja answers Tuma's own requests (registration, Transaction Status), and its failures."""

from __future__ import annotations

from dataclasses import dataclass


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

    @property
    def ok(self) -> bool:
        return self.outcome != "refused"
