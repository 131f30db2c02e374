"""The business's API keys: each names what it may do, so that a key handed out is worth only that.

The key set lives in its own secret (API_KEYS_SECRET), `{"keys": [...]}`; `tuma keys` creates,
lists, rotates and revokes them. A request names its key with RFC 9421's `keyid`
(tuma.security.message_signatures); the route it calls names the scope it needs where the route is
declared (tuma.runtime.routes). The HMAC key is the secret's text as UTF-8 bytes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr

from tuma.security.redaction import register_secret

KEY_ID_PATTERN = r"^tk_[A-Za-z0-9]{8,32}$"


class Scope(StrEnum):
    PAYMENTS = "payments"  # POST /payments: a receipt to the payer
    ALERTS = "alerts"  # POST /alerts: texts to the business's people
    MESSAGES_READ = "messages:read"  # GET /messages/{key}: a message's story
    MESSAGES_CANCEL = "messages:cancel"  # DELETE /messages/{key}: withdraw a scheduled message
    PRIVACY = "privacy"  # suppressions and consents: a customer's STOP and opt-ins


class ApiKey(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(pattern=KEY_ID_PATTERN)
    secret: SecretStr = Field(min_length=32)
    scopes: frozenset[Scope] = Field(min_length=1)
    created_at: AwareDatetime
    expires_at: AwareDatetime | None = None
    name: str = Field(default="", max_length=80)  # who holds it: "shop till", "Grafana alerts"

    def model_post_init(self, __context: Any) -> None:
        register_secret(self.secret.get_secret_value())

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at

    def public(self) -> dict[str, Any]:
        """What `tuma keys list` shows: everything but the secret."""
        return {
            "id": self.id,
            "name": self.name,
            "scopes": sorted(s.value for s in self.scopes),
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


class ApiKeySet(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    keys: tuple[ApiKey, ...] = ()

    def find(self, key_id: str) -> ApiKey | None:
        return next((key for key in self.keys if key.id == key_id), None)
