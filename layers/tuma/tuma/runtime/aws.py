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
    from botocore.config import Config

    key = (service, pool, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_DEFAULT_REGION"))
    if key not in _clients:
        if _session is None:
            _session = _new_session()
        _session.get_component("data_loader").asked.add(service)
        _clients[key] = _session.create_client(service, config=Config(max_pool_connections=pool))
    return _clients[key]


def dynamodb() -> Any:
    """One DynamoDB client for the function, its pool as wide as the claims and ledger writes run at once."""
    return client("dynamodb", pool=32)


def _new_session() -> Any:
    """botocore's session, with a loader that does not take a census of every AWS service.

    Before it loads a service's model, botocore checks the name against every service it has a model
    for: it lists all its data directories (424 of them), once for the model and once for the
    endpoint rules, which is about a sixth of the first client's cost, 10-15 ms of every cold start
    (boto/botocore#3687 takes the listing off that path; not in a release yet). Here the services
    available are those this process asked for that have a model; a name without one still fails as
    botocore fails it (UnknownServiceError)."""
    import botocore.session
    from botocore.exceptions import DataNotFoundError
    from botocore.loaders import Loader

    class AskedServices(Loader):
        def __init__(self, data_path: str | None) -> None:
            # AWS_DATA_PATH, read as botocore.loaders.create_loader reads it.
            paths = data_path.split(os.pathsep) if data_path else []
            super().__init__(extra_search_paths=[os.path.expanduser(os.path.expandvars(p)) for p in paths])
            self.asked: set[str] = set()

        def list_available_services(self, type_name: str) -> list[str]:
            found = sorted(name for name in self.asked if self._has(name, type_name))
            if len(found) < len(self.asked):  # a name without a model: the census, for botocore's error
                return list(super().list_available_services(type_name))
            return found

        def _has(self, name: str, type_name: str) -> bool:
            try:
                return bool(self.list_api_versions(name, type_name))
            except DataNotFoundError:
                return False

    session = botocore.session.get_session()
    session.register_component("data_loader", AskedServices(session.get_config_variable("data_path")))
    return session
