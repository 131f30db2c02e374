"""End-to-end: `tuma local up` runs as a separate process; tests drive it only from outside.

HTTP to the webhooks front, boto3 to the local AWS endpoint, HTTP to the simulator's outbox: the
same things a team's own systems would touch.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from boto3.dynamodb.types import TypeDeserializer

from tests.conftest import ROOT
from tuma_cli.api_signing import ApiKeyCredentials, signed_request

pytestmark = pytest.mark.e2e
ALERT_RECIPIENTS = "0722 000 111,0733 000 222"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Local:
    ready: dict[str, Any]
    process: subprocess.Popen[str]

    def aws(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]  # any service, by name
            service,
            endpoint_url=self.ready["aws_endpoint_url"],
            region_name=self.ready["region"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def url(self, path: str) -> str:
        """`{token}` becomes the token of the caller the route is for: the provider's for its delivery
        reports, Daraja's for the rest."""
        caller = "provider_token" if path.startswith("/delivery-reports/") else "daraja_token"
        return str(self.ready["webhook_base_url"]) + path.replace("{token}", str(self.ready[caller]))

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """As the route's caller would: Daraja's routes from the address its callbacks come from."""
        daraja = path.startswith(("/payments/c2b/", "/payments/stk/", "/payments/status-results/"))
        source = self.ready["daraja_callbacks_from"] if daraja else "127.0.0.1"
        return self.post_from(source, path, body)

    def post_from(self, source: str, path: str, body: dict[str, Any]) -> httpx.Response:
        """From a loopback address of the caller's choosing: 127.0.0.1 is nobody Daraja trusts."""
        with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=30) as http:
            return http.post(self.url(path), json=body)

    @property
    def api_key(self) -> ApiKeyCredentials:
        """The topology's API key, every scope (READY `api_key`)."""
        return ApiKeyCredentials(self.ready["api_key"]["id"], self.ready["api_key"]["secret"])

    def post_signed(
        self, path: str, body: dict[str, Any], key: ApiKeyCredentials | None = None
    ) -> httpx.Response:
        """Signed as a business's RFC 9421 library signs, sent through the stage as deployed."""
        with httpx.Client(timeout=30) as http:
            return signed_request(
                http, key or self.api_key, "POST", self.url("/v1" + path), json.dumps(body).encode()
            )

    def get_signed(
        self, path: str, method: str = "GET", key: ApiKeyCredentials | None = None
    ) -> httpx.Response:
        with httpx.Client(timeout=30) as http:
            return signed_request(http, key or self.api_key, method, self.url("/v1" + path))

    def simulator(self, path: str, method: str = "GET", **kwargs: Any) -> Any:
        answer = httpx.request(method, self.ready["simulator_url"] + path, timeout=10, **kwargs)
        answer.raise_for_status()
        return answer.json()

    def simulator_at(self, which: str, path: str, method: str = "GET", **kwargs: Any) -> Any:
        """The simulator named by a READY key: simulator_url or secondary_simulator_url."""
        answer = httpx.request(method, self.ready[which] + path, timeout=10, **kwargs)
        answer.raise_for_status()
        return answer.json()

    def phones(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.simulator("/_sandbox/outbox")
        return result

    def ledger(self, key: str | None = None, with_payments: bool = False) -> list[dict[str, Any]]:
        deserialize = TypeDeserializer().deserialize
        pages = (
            self.aws("dynamodb").get_paginator("scan").paginate(TableName=self.ready["tables"]["LedgerTable"])
        )
        items = [item for page in pages for item in page["Items"]]
        entries = [{k: deserialize(v) for k, v in item.items()} for item in items]
        return [
            e
            for e in entries
            if (key is None or e["idempotency_key"] == key)
            and (with_payments or not e["recipient_ref"].startswith("#"))
        ]

    def wait_for(self, condition: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextmanager
def running_local(
    *parameters: str, ready_file: Path | None = None, options: tuple[str, ...] = ()
) -> Iterator[Local]:
    """`tuma local up` as a process of its own, with template parameters (NAME=VALUE)."""
    # Port 0: the front binds a free port itself and READY names it. A port found free here and
    # bound later could be taken in between by another test's server (CI saw "Address in use").
    command = [sys.executable, "-m", "tuma_cli.main", "local", "up", "--port", "0", *options]
    if ready_file is not None:
        command += ["--ready-file", str(ready_file)]
    for parameter in parameters:
        command += ["--parameter", parameter]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMS_", "TUMA_", "POWERTOOLS_"))}
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None and process.stderr is not None
    errors: list[str] = []
    threading.Thread(target=lambda: errors.extend(process.stderr), daemon=True).start()  # type: ignore[arg-type]
    ready: dict[str, Any] | None = None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("READY "):
            ready = json.loads(line[len("READY ") :])
            break
    if ready is None:
        process.kill()
        raise RuntimeError("tuma local up never printed READY:\n" + "".join(errors[-40:]))
    try:
        yield Local(ready, process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def tuma_local(ready_file: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """A `tuma` command against the local topology that wrote `ready_file`, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "tuma_cli.main", *arguments, "--local", "--ready-file", str(ready_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,  # a ceiling: `tuma daraja status` waits for M-Pesa's answer
        check=False,
    )


@pytest.fixture(scope="module")
def local() -> Iterator[Local]:
    # Per module: a topology left running would take CPU from every test after it.
    # Above the simulator's starting credit, so the first scheduled check sees a low balance.
    with running_local(f"AlertRecipients={ALERT_RECIPIENTS}", "LowCreditThreshold=20000") as topology:
        yield topology


# -- the template as CloudFormation receives it ------------------------------------------------------


def sam_cli() -> str:
    sam = os.environ.get("TUMA_SAM")
    if not sam or not Path(sam).exists():
        pytest.skip("TUMA_SAM is not set: `make test` installs the SAM CLI in .venv-sam and sets it")
    return sam


def sam_env() -> dict[str, str]:
    """The SAM CLI's environment: the Python that `make` found (scripts/find_python.sh) first on PATH,
    for `sam build`'s python3.13."""
    import shutil

    shell = shutil.which("sh") or "/bin/sh"
    python = subprocess.run(
        [shell, str(ROOT / "scripts" / "find_python.sh")], capture_output=True, text=True, check=False
    ).stdout.strip()
    path = f"{Path(python).parent}:{os.environ['PATH']}" if python else os.environ["PATH"]
    return {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "eu-west-1", "PATH": path}


_transformed: dict[tuple[str, ...], dict[str, Any]] = {}


def sam_transform(*parameters: str) -> dict[str, Any]:
    """template.yaml through samtranslator (scripts/sam_transform.py), with NAME=VALUE parameters."""
    if parameters not in _transformed:
        # samtranslator pins an older pydantic than the project, so it runs in the SAM CLI's own venv.
        python = Path(sam_cli()).parent / "python"
        result = subprocess.run(
            [str(python), str(ROOT / "scripts" / "sam_transform.py"), *parameters],
            capture_output=True,
            text=True,
            env=sam_env(),
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        _transformed[parameters] = json.loads(result.stdout)
    return _transformed[parameters]
