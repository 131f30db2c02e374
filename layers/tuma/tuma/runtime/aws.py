"""AWS clients from botocore alone, one per service and process.

The functions use botocore clients and nothing of boto3 itself; importing boto3 pulls in s3transfer
and its resource layer, about 150 ms of every cold start here (bench/cold_start.py). Endpoint and
region come from the environment as with boto3 (AWS_ENDPOINT_URL, AWS_DEFAULT_REGION). Building a
client costs 30-50 ms, so adapters of one service share one.
"""

from __future__ import annotations

import os
from typing import Any

_session: Any = None
_clients: dict[tuple[str, int, str | None, str | None], Any] = {}


def client(service: str, *, pool: int = 10) -> Any:
    """The process's client for `service` (keyed by the environment too: tests and the local
    topology load functions again in one process, possibly against another endpoint)."""
    global _session  # noqa: PLW0603 - one session per process, made on first use
    import botocore.session
    from botocore.config import Config

    key = (service, pool, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_DEFAULT_REGION"))
    if key not in _clients:
        if _session is None:
            _session = botocore.session.get_session()
        _clients[key] = _session.create_client(service, config=Config(max_pool_connections=pool))
    return _clients[key]


def dynamodb() -> Any:
    """One DynamoDB client for the function, its pool as wide as the claims and ledger writes run at once."""
    return client("dynamodb", pool=32)
