"""One of Tuma's functions, in this process, against a moto server provisioned from template.yaml:
what bench/outbox_batch.py and bench/signed_requests.py measure on."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class InProcess:
    endpoint: str
    topology: Any  # tuma_cli.local.provision.Topology
    stop: Callable[[], None]

    def handler(self, function: str, **environment: str) -> Callable[..., Any]:
        """The function's handler, loaded with its template environment (and `environment`) and
        the emulator's endpoint; quiet (metrics off, errors only in the log)."""
        from tuma_cli.local.functions import load_handler

        spec = self.topology.functions[function]
        os.environ.update(spec.environment)
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": "us-east-1",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "ERROR",
                **environment,
            }
        )
        handler: Callable[..., Any] = load_handler(spec.directory, spec.handler)
        return handler


def start(overrides: dict[str, str] | None = None) -> InProcess:
    from moto.server import ThreadedMotoServer

    from tuma_cli.local.provision import provision

    logging.disable(logging.CRITICAL)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    return InProcess(endpoint, provision(ROOT, endpoint, overrides=overrides or {}), moto.stop)
