"""`tuma local up` and `tuma local demo`: the whole topology of template.yaml on one machine.

moto (in this process) plays AWS; the simulator plays the provider; each function runs in a process
of its own with its environment from the template; pollers play Lambda's event sources.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tuma_cli.daraja_sandbox.server import CALLBACKS_FROM
from tuma_cli.local.api_front import ApiFront, routes_from
from tuma_cli.local.lambda_api import LambdaApi
from tuma_cli.local.metrics import put_metrics
from tuma_cli.local.provision import Topology, client, provision
from tuma_cli.local.scheduler import Schedule
from tuma_cli.local.seeding import fill_credentials, seed_api_key, seed_templates
from tuma_cli.local.sqs_poller import SqsPoller
from tuma_cli.local.stream_poller import StreamPoller
from tuma_cli.local.template import REGION
from tuma_cli.local.worker import FunctionProcess
from tuma_cli.ready import project_root, ready_file
from tuma_cli.sandbox.platform import SimulatorSettings, SmsPlatform
from tuma_cli.sandbox.server import SandboxServer

if TYPE_CHECKING:
    from tuma_cli.daraja_sandbox.server import DarajaSimulator

# The pull runs every 3 s here, and callbacks come in milliseconds: seconds, not half an hour.
LOCAL_DARAJA = {"DARAJA_CONFIRM_WITHIN_SECONDS": "10", "DARAJA_PULL_GRACE_SECONDS": "2"}

log = logging.getLogger(__name__)
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")


class LocalTopology:
    def __init__(
        self,
        root: Path,
        port: int = 3000,
        dlr_delay: float = 1.0,
        parameters: dict[str, str] | None = None,
        *,
        schedule_period: float | None = None,
        delivery_callbacks: bool = True,
        secondary_provider: bool = False,
        daraja: bool = False,
        pull_period: float = 3.0,
        record_aws_calls: Path | None = None,
    ) -> None:
        self.root = root
        # Every AWS call each function makes, as JSON lines (tests/e2e/test_permissions.py).
        self._record_aws_calls = record_aws_calls
        # A Daraja simulator, and the pull job every `pull_period` seconds (every 15 minutes deployed).
        self._with_daraja = daraja
        self._pull_period = pull_period
        self.daraja: DarajaSimulator | None = None
        # A second simulator, configured as the secondary provider (another brand, other credentials).
        self._with_secondary = secondary_provider
        self.secondary: SandboxServer | None = None
        # Schedules run every `schedule_period` seconds here when given (a minute is long on a laptop).
        self._schedule_period = schedule_period
        self._delivery_callbacks = delivery_callbacks
        self._parameters = parameters or {}
        self.port = port
        self.log_dir = root / ".local" / "logs"
        self._dlr_delay = dlr_delay
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._logs: list[IO[str]] = []
        self.functions: dict[str, FunctionProcess] = {}
        self.pollers: list[SqsPoller] = []
        self.api_key: dict[str, str] = {}
        self.streams: list[StreamPoller] = []
        self.schedules: list[Schedule] = []
        self.front: ApiFront | None = None
        self.lambda_api: LambdaApi | None = None
        self.topology: Topology | None = None
        self.endpoint = ""
        self._moto: Any = None
        self.sandbox: SandboxServer | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, moto_port = self._moto.get_host_and_port()
        self.endpoint = f"http://{host}:{moto_port}"
        # Moto's servers in a process share one state: a topology after another still starts empty.
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"))  # noqa: S310 - loopback
        self.sandbox = SandboxServer(SmsPlatform(SimulatorSettings(dlr_delay=self._dlr_delay))).start()
        # Daraja's callbacks come from 127.0.0.2 here (the Daraja simulator posts from it): the one
        # address the routes allow, as Safaricom's are deployed; a POST from 127.0.0.1 is a forgery.
        overrides = (
            {"SafaricomCallbackIps": CALLBACKS_FROM}
            | self._parameters
            | {"ProviderBaseUrl": self.sandbox.url}
        )
        if self._with_secondary:
            self.secondary = SandboxServer(
                SmsPlatform(
                    SimulatorSettings(
                        apikey="sandbox-secondary-apikey-9876543210",
                        partner_id="67890",
                        shortcode="TUMA-2",
                        promotional_shortcode="TUMA-2INFO",
                        dlr_delay=self._dlr_delay,
                    )
                )
            ).start()
            overrides["SecondaryProviderBaseUrl"] = self.secondary.url
        if self._with_daraja:
            from tuma_cli.daraja_sandbox.server import DarajaSimulator

            self.daraja = DarajaSimulator().start()
            # --parameter DarajaBaseUrl=URL points Tuma at another Daraja; the simulator then only steers.
            short_codes = ",".join(self.daraja.platform.settings.short_codes)
            overrides = {
                "Daraja": "Enabled",
                "DarajaBaseUrl": self.daraja.url,
                "BusinessShortCodes": short_codes,
            } | overrides
        self.topology = provision(self.root, self.endpoint, overrides=overrides)
        self._fill_credentials()
        self._seed_templates()
        self.api_key = seed_api_key(self.topology, self.endpoint)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, spec in self.topology.functions.items():
            handle = (self.log_dir / f"{name}.log").open("a", buffering=1)
            self._logs.append(handle)
            self.functions[name] = FunctionProcess(
                name,
                spec.directory,
                spec.handler,
                environment=self._environment(spec.logical_id, spec.environment),
                timeout=spec.timeout,
                log=handle,
                on_metrics=self._put_metrics,
            )
        self._start_event_sources()
        self.lambda_api = LambdaApi(
            {name: function.invoke for name, function in self.functions.items()},
            {
                alias: name
                for name, spec in self.topology.functions.items()
                for alias in (spec.logical_id, f"tuma-local-{spec.logical_id}")
            },
        ).start()
        return self.ready_info()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        # The callers first, then what they call, AWS last.
        parts: list[Any] = [self.front, self.lambda_api, *self.functions.values()]
        for part in [*parts, self.sandbox, self.secondary, self.daraja, self._moto]:
            if part is not None:
                part.stop()
        for handle in self._logs:
            handle.close()

    # -- wiring ---------------------------------------------------------------------------------

    def _fill_credentials(self) -> None:
        assert self.topology is not None and self.sandbox is not None
        fill_credentials(self.topology, self.endpoint, self.sandbox, self.secondary, self.daraja)

    def _seed_templates(self) -> None:
        assert self.topology is not None
        seed_templates(self.topology, self.endpoint)

    def _put_metrics(self, emf: dict[str, Any]) -> None:
        put_metrics(client("cloudwatch", self.endpoint), emf)

    def _environment(self, logical_id: str, variables: dict[str, str]) -> dict[str, str]:
        base = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
        return (
            base
            | variables
            | {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_LAMBDA_FUNCTION_NAME": f"tuma-local-{logical_id}",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
                "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
                "PYTHONUNBUFFERED": "1",
            }
            # The primary is probed every few seconds here, not every minute: a laptop demo is short.
            | ({"FAILOVER_PROBE_SECONDS": "3"} if self.secondary is not None else {})
            | (LOCAL_DARAJA if self.daraja is not None else {})
            | ({"TUMA_LOCAL_AWS_CALLS": str(self._record_aws_calls)} if self._record_aws_calls else {})
        )

    def _start_event_sources(self) -> None:
        assert self.topology is not None
        self._start_front()
        sqs = client("sqs", self.endpoint)  # one client for every poller: building one takes ~40 ms
        for name, spec in self.topology.functions.items():
            for logical, event in spec.events.items():
                props = event.get("Properties") or {}
                if event.get("Type") == "DynamoDB":
                    self._poll_stream(name, props, sqs)
                elif event.get("Type") == "Schedule":
                    self._schedule(name, spec.logical_id, logical, props)
                elif event.get("Type") == "SQS":
                    self._poll_queue(name, props, sqs)

    def _start_front(self) -> None:
        """The API's routes on loopback; the simulators call back to them as the portals would."""
        assert self.topology is not None and self.sandbox is not None
        routes = routes_from(self.topology.functions)
        if not routes:
            return
        self.front = ApiFront(
            routes, lambda name, event: self.functions[name].invoke(event), self.port
        ).start()
        if not self._delivery_callbacks:  # reports arrive only by polling (functions/reconciler)
            return
        reports = f"{self.front.url}/delivery-reports/{self.callback_token('ProviderCallbackSecret')}"
        self.sandbox.platform.configure({"callback_url": reports})
        if self.secondary is not None:  # its own callback URL, as its portal would hold
            self.secondary.platform.configure({"callback_url": f"{reports}?provider=secondary"})

    def _poll_stream(self, name: str, props: dict[str, Any], sqs: Any) -> None:
        assert self.topology is not None
        destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        stream = StreamPoller(
            client("dynamodbstreams", self.endpoint),
            sqs,
            props["Stream"],
            self.functions[name].invoke,
            properties=props,
            destination_url=self.topology.queue_url_for_arn(destination) if destination else None,
        )
        self.streams.append(stream)
        self._spawn(f"stream-{name}", stream.run)

    def _poll_queue(self, name: str, props: dict[str, Any], sqs: Any) -> None:
        assert self.topology is not None
        arn = props["Queue"]
        poller = SqsPoller(
            sqs,
            self.topology.queue_url_for_arn(arn),
            arn,
            self.functions[name].invoke,
            batch_size=int(props.get("BatchSize", 10)),
            window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        )
        self.pollers.append(poller)
        self._spawn(f"sqs-{name}", poller.run)

    def _schedule(self, name: str, logical_id: str, event: str, props: dict[str, Any]) -> None:
        schedule = Schedule(
            f"{name}-{event}", str(props.get("Schedule", "rate(1 hour)")), self.functions[name].invoke
        )
        if self._schedule_period is not None:
            schedule.period = self._schedule_period
        if logical_id == "DarajaPullFunction" and self.daraja is not None:
            schedule.period = self._pull_period
        self.schedules.append(schedule)
        self._spawn(f"schedule-{name}", schedule.run)

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- what callers need ------------------------------------------------------------------------

    def webhook_secret(self) -> dict[str, Any]:
        return self._secret("WebhookSecret")

    def callback_token(self, logical_id: str) -> str:
        """The path token of a caller that cannot sign (its own secret), as the URLs carry it."""
        return str(self._secret(logical_id).get("token", ""))

    def _secret(self, logical_id: str) -> dict[str, Any]:
        assert self.topology is not None
        if logical_id not in self.topology.resources:
            return {}
        answer = client("secretsmanager", self.endpoint).get_secret_value(
            SecretId=self.topology.ref(logical_id)
        )
        value: dict[str, Any] = json.loads(answer["SecretString"])
        return value

    def ready_info(self) -> dict[str, Any]:
        assert self.topology is not None and self.sandbox is not None
        secret = self.webhook_secret()
        parameters = self.topology.parameters
        return {
            "webhook_base_url": self.front.url if self.front else None,
            "webhook_token": secret.get("path_token"),
            # Each caller that cannot sign has a token of its own (tuma secrets rotate daraja|provider).
            "daraja_token": self.callback_token("DarajaCallbackSecret"),
            "provider_token": self.callback_token("ProviderCallbackSecret"),
            # Where Daraja's callbacks are allowed from here (the Daraja simulator posts from it).
            "daraja_callbacks_from": CALLBACKS_FROM,
            # An API key with every scope (tuma keys create makes others): `id` signs as RFC 9421's keyid.
            "api_key": self.api_key,
            "simulator_url": self.sandbox.url,
            "secondary_simulator_url": self.secondary.url if self.secondary is not None else None,
            "daraja_simulator_url": self.daraja.url if self.daraja is not None else None,
            # What `tuma daraja --local` needs of the template's parameters (a stack's outputs say it).
            "daraja": _daraja_parameters(parameters) if self.topology.conditions.get("HasDaraja") else None,
            "aws_endpoint_url": self.endpoint,
            # Lambda's Invoke API for these functions (tuma local invoke, tuma doctor --local).
            "lambda_endpoint_url": self.lambda_api.url if self.lambda_api else None,
            "region": REGION,
            "parameters": {k: ",".join(v) if isinstance(v, list) else str(v) for k, v in parameters.items()},
            **_resources_by_kind(self.topology.resources),
            "logs": str(self.log_dir),
        }


def _daraja_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "base_url": parameters["DarajaBaseUrl"],
        "register_url_version": parameters["DarajaRegisterUrlVersion"],
        "response_type": parameters["DarajaResponseType"],
        "pull_times": parameters["DarajaPullTimes"],
    }


def _resources_by_kind(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The topics, queues, tables and secrets the template made, by logical id."""
    return {
        "topics": {k: v["Ref"] for k, v in resources.items() if "TopicArn" in v},
        "queues": {k: v["QueueUrl"] for k, v in resources.items() if "QueueUrl" in v},
        "tables": {
            k: v["Ref"] for k, v in resources.items() if str(v.get("Arn", "")).startswith("arn:aws:dynamodb")
        },
        "secrets": {k: v["Ref"] for k, v in resources.items() if ":secretsmanager:" in str(v.get("Ref", ""))},
    }


@contextmanager
def running(
    root: Path,
    port: int,
    dlr_delay: float = 1.0,
    parameters: dict[str, str] | None = None,
    **options: Any,
) -> Iterator[LocalTopology]:
    topology = LocalTopology(root, port, dlr_delay, parameters, **options)
    try:
        topology.start()
        yield topology
    finally:
        topology.stop()


def up(
    port: int,
    parameters: dict[str, str] | None = None,
    ready_path: Path | None = None,
    console_port: int | None = None,
    **options: Any,
) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with running(project_root(), port, parameters=parameters, **options) as topology:
        ready = topology.ready_info()
        server = None
        if console_port is not None:
            from tuma_cli.console.serve import beside

            ready["console_url"], server = beside(ready, console_port)
        # For the operator commands' --local: where this topology is, while it runs.
        path = ready_path or ready_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(ready))
        print("READY " + json.dumps(ready), flush=True)
        try:
            stop.wait()
        finally:
            path.unlink(missing_ok=True)
            if server is not None:
                server.should_exit = True
    return 0
