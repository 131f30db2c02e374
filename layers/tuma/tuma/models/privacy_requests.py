"""The signed routes' bodies for the suppression list and the consent record (functions/webhooks).

The number travels in the body, never in a path: a full number must not appear in a URL.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from tuma.models.privacy import Scope
from tuma.models.validation import NO_CONTROL_CHARS

# Any Kenyan form (07…, +254 7…, 2547…), or Safaricom's SHA-256 hex digest of the 254… form.
Number = Field(min_length=1, max_length=100, pattern=NO_CONTROL_CHARS)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # see mpesa._Daraja


class SuppressionRequest(_Request):
    """Stop messages to a number: promotions only (the default), or everything (`all`)."""

    number: str = Number
    scope: Scope = Scope.PROMOTIONAL
    reason: str = Field(default="asked to stop", max_length=200, pattern=NO_CONTROL_CHARS)


class SuppressionRemoval(_Request):
    """Send again to a number: one scope, or every scope when none is given."""

    number: str = Number
    scope: Scope | None = None


class ConsentRequest(_Request):
    """A customer agreed to promotional messages: where, in what words, and when (default: now)."""

    number: str = Number
    source: str = Field(min_length=1, max_length=64, pattern=NO_CONTROL_CHARS)
    wording: str = Field(min_length=1, max_length=500)
    at: datetime | None = None


class ConsentWithdrawal(_Request):
    number: str = Number
