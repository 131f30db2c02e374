"""Transaction Status: Tuma asks M-Pesa about one receipt, and remembers that it asked.

Daraja answers later, by posting to the status-result route. The answer is taken only for a request
Tuma made (its conversation ids), once, and before the request expires (STATUS_QUERY_PATIENCE):
anything else posted there is acknowledged and changes nothing (tuma.services.intake).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from tuma.formatting.clock import now_utc
from tuma.models.daraja import STATUS_QUERY_PATIENCE, StatusQuery

if TYPE_CHECKING:
    from tuma.models.daraja import Registration
    from tuma.ports import DarajaSetup, Ledger


class StatusQueries:
    def __init__(
        self, daraja: DarajaSetup, ledger: Ledger, *, clock: Callable[[], datetime] = now_utc
    ) -> None:
        self._daraja = daraja
        self._ledger = ledger
        self._clock = clock

    def ask(self, receipt: str, short_code: str, result_url: str) -> Registration:
        asked_at = self._clock()
        asked = self._daraja.ask_status(receipt, short_code, result_url)
        if asked.ok and asked.originator_conversation_id and asked.conversation_id:
            self._ledger.record_status_query(
                StatusQuery(
                    receipt,
                    asked.originator_conversation_id,
                    asked.conversation_id,
                    asked_at,
                    asked_at + STATUS_QUERY_PATIENCE,
                )
            )
        return asked
