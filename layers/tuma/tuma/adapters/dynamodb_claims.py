"""Claims (`tuma.ports.Claims`) on Powertools Idempotency's persistence layer (DynamoDB when deployed).

Powertools' decorators wrap one function call per key; a batch sent in one `sendbulk` needs the
same records claimed before the call and settled after it, so the persistence layer is driven
directly: `save_inprogress` claims (failing if the key is taken), `save_success` settles,
`delete_record` releases a claim whose send failed and should be tried again. A batch's claims are
written concurrently: settling a hundred one after the other would keep a crash window of a second
open after the provider's answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS

from tuma.ports import Claim, ClaimState

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

KEY_PREFIX = "tuma-delivery"
T = TypeVar("T")
R = TypeVar("R")


class _Released(Exception):
    """Powertools wants the exception that made a record obsolete; this is ours."""


class PowertoolsClaims:
    def __init__(
        self, persistence: BasePersistenceLayer, expires_after_seconds: int, concurrency: int = 16
    ) -> None:
        self._store = persistence
        self._concurrency = concurrency
        # A fixed key prefix (not the function name) so a renamed or local function sees the same claims.
        self._store.configure(
            IdempotencyConfig(expires_after_seconds=expires_after_seconds, raise_on_no_idempotency_key=True),
            key_prefix=KEY_PREFIX,
        )

    @staticmethod
    def _data(idempotency_key: str, recipient_ref: str) -> dict[str, Any]:
        return {"idempotency_key": idempotency_key, "recipient": recipient_ref}

    def _claim_one(self, claim: Claim, remaining_ms: int | None) -> ClaimState:
        data = self._data(*claim)
        try:
            # Without a Lambda deadline an abandoned claim would block until it expires: assume 5 minutes.
            self._store.save_inprogress(data, remaining_ms if remaining_ms is not None else 300_000)
        except IdempotencyItemAlreadyExistsError as exc:
            record = exc.old_data_record
            if record is None:
                try:
                    record = self._store.get_record(data)
                except IdempotencyItemNotFoundError:
                    return ClaimState.BUSY  # deleted between the two calls: let the retry decide
            if record is not None and record.status == STATUS_CONSTANTS["COMPLETED"]:
                return ClaimState.DONE
            return ClaimState.BUSY
        return ClaimState.NEW

    def claim(self, claims: Sequence[Claim], remaining_ms: int | None) -> list[ClaimState]:
        return self._all(lambda claim: self._claim_one(claim, remaining_ms), claims)

    def settle(self, results: Sequence[tuple[Claim, dict[str, Any]]]) -> None:
        self._all(lambda item: self._store.save_success(self._data(*item[0]), item[1]), results)

    def release(self, claims: Sequence[Claim]) -> None:
        self._all(lambda claim: self._store.delete_record(self._data(*claim), _Released()), claims)

    def _all(self, write: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Every write at once (each is one conditional DynamoDB call), results in order."""
        if len(items) <= 1:
            return [write(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(items))) as pool:
            return list(pool.map(write, items))
