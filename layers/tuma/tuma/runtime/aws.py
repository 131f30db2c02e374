"""AWS clients from botocore alone.

The functions use botocore clients and nothing of boto3 itself; importing boto3 pulls in s3transfer
and its resource layer, about 150 ms of every cold start here (bench/cold_start.py). Endpoint and
region come from the environment as with boto3 (AWS_ENDPOINT_URL, AWS_DEFAULT_REGION).
"""

from __future__ import annotations

from typing import Any

_session: Any = None


def client(service: str, *, pool: int = 10) -> Any:
    """A client on the function's one botocore session (its loaders and credentials are shared)."""
    global _session  # noqa: PLW0603 - one session per process, made on first use
    import botocore.session
    from botocore.config import Config

    if _session is None:
        _session = botocore.session.get_session()
    return _session.create_client(service, config=Config(max_pool_connections=pool))
