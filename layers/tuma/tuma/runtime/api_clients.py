"""The two APIs' clients, as the composition root (tuma.runtime.wiring) and the operator's commands
build them: the SMS provider's (credentials, the learnt bulk limit, failover to a secondary) and
Daraja's (its secret; its OAuth token in memory).

Imports are inside the functions on purpose: each Lambda function pays at cold start only for the
clients it uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tuma.runtime import aws

if TYPE_CHECKING:
    from tuma.adapters.dynamodb_state import DynamoDBStateStore
    from tuma.adapters.secrets import JsonSecret
    from tuma.daraja.client import DarajaClient
    from tuma.models.daraja import PullTimes
    from tuma.models.daraja_credentials import DarajaCredentials
    from tuma.models.provider_answers import DeliveryReport
    from tuma.ports import CredentialSource, MetricsSink, Sender
    from tuma.provider.client import ProviderClient
    from tuma.provider.failover import Transition
    from tuma.runtime.settings import DarajaSettings, ProviderSettings
    from tuma.runtime.settings.outbox_sender import SenderSettings
    from tuma.runtime.settings.reconciler import ReconcilerSettings


def json_secret(secret_id: str, max_age: int) -> JsonSecret:
    from tuma.adapters.secrets import JsonSecret

    return JsonSecret(secret_id, aws.client("secretsmanager"), max_age)


def state_store(table: str | None) -> DynamoDBStateStore | None:
    """Where the learnt bulk limit, the failover breaker and Daraja's token are shared."""
    if not table:
        return None
    from tuma.adapters.dynamodb_state import DynamoDBStateStore

    return DynamoDBStateStore(aws.dynamodb(), table)


def credentials(settings: ProviderSettings) -> CredentialSource:
    from tuma.adapters.secrets import SecretsManagerCredentials
    from tuma.models.provider_credentials import from_environment

    if settings.SMS_CREDENTIALS_SECRET:
        return SecretsManagerCredentials(
            json_secret(settings.SMS_CREDENTIALS_SECRET, settings.CREDENTIALS_CACHE_SECONDS)
        )
    return from_environment()


def provider_client(
    settings: ProviderSettings, time_left: Callable[[], float] | None = None
) -> ProviderClient:
    from tuma.adapters.http import Urllib3Http
    from tuma.provider.client import ProviderClient, RetryPolicy
    from tuma.provider.limits import BulkLimit

    store = state_store(settings.STATE_TABLE)
    return ProviderClient(
        settings.SMS_API_BASE_URL,
        credentials(settings),
        Urllib3Http(settings.SMS_CONNECT_TIMEOUT, settings.SMS_READ_TIMEOUT),
        bulk_limit=BulkLimit(
            settings.SMS_BULK_LIMIT,
            store,
            name=urlsplit(settings.SMS_API_BASE_URL).netloc,
            probe_every_seconds=settings.SMS_BULK_PROBE_SECONDS,
        ),
        comma_limit=settings.SMS_COMMA_LIMIT,
        retry=RetryPolicy(attempts=settings.SMS_MAX_ATTEMPTS),
        time_left=time_left,
    )


def sender(
    settings: SenderSettings, metrics: MetricsSink, time_left: Callable[[], float] | None = None
) -> Sender:
    """The primary provider's client; with a secondary configured, both behind the failover breaker."""
    primary = provider_client(settings, time_left=time_left)
    secondary_settings = settings.secondary()
    if secondary_settings is None:
        return primary
    from tuma.provider.failover import Breaker, FailoverSender

    store = state_store(settings.STATE_TABLE)
    assert store is not None  # the settings refuse a secondary without the state table
    breaker = Breaker(
        store,
        threshold=settings.FAILOVER_THRESHOLD,
        probe_seconds=settings.FAILOVER_PROBE_SECONDS,
    )

    probe: list[ProviderClient] = []

    def primary_answers() -> bool:
        """getbalance sends nothing; an answer means the primary is back. One quick try, so that a
        primary that hangs does not hold the batch of the sender that probes (built on first use)."""
        if not probe:
            quick = settings.model_copy(
                update={"SMS_MAX_ATTEMPTS": 1, "SMS_READ_TIMEOUT": min(3.0, settings.SMS_READ_TIMEOUT)}
            )
            probe.append(provider_client(quick, time_left=time_left))
        probe[0].get_balance()
        return True

    return FailoverSender(
        primary,
        provider_client(secondary_settings, time_left=time_left),
        breaker,
        primary_answers,
        on_transition=failover_alert(settings, metrics),
    )


def failover_alert(settings: SenderSettings, metrics: MetricsSink) -> Callable[[Transition], None]:
    """When traffic changes provider: a metric, and an alert SMS to ALERT_RECIPIENTS (fast lane)."""
    from tuma.adapters.sqs_outbox import SqsOutboxQueue
    from tuma.provider.failover import alert_for

    def announce(transition: Transition) -> None:
        metrics.count("ProviderFailoverStarted" if transition.to == "secondary" else "ProviderFailoverEnded")
        queue_url = settings.FAST_OUTBOX_QUEUE_URL or settings.OUTBOX_QUEUE_URL
        if queue_url and settings.ALERT_RECIPIENTS:
            SqsOutboxQueue(aws.client("sqs"), queue_url, settings.FAST_OUTBOX_QUEUE_URL).put(
                alert_for(transition, settings.DEFAULT_LANGUAGE)
            )

    return announce


def providers_get_dlr(
    settings: ReconcilerSettings, time_left: Callable[[], float] | None
) -> dict[str, Callable[[str], DeliveryReport | None]]:
    return {name: client.get_dlr for name, client in provider_clients(settings, time_left).items()}


def provider_clients(
    settings: ProviderSettings, time_left: Callable[[], float] | None = None
) -> dict[str, ProviderClient]:
    """The primary provider's client, and the secondary's when there is one."""
    clients = {"primary": provider_client(settings, time_left=time_left)}
    secondary = settings.secondary()
    if secondary is not None:
        clients["secondary"] = provider_client(secondary, time_left=time_left)
    return clients


def daraja_credentials(settings: DarajaSettings) -> Callable[[], DarajaCredentials] | None:
    """The Daraja secret, read (and cached) when first needed; None when none is configured."""
    if not settings.DARAJA_SECRET:
        return None
    from tuma.models.daraja_credentials import DarajaCredentials

    secret = json_secret(settings.DARAJA_SECRET, settings.CREDENTIALS_CACHE_SECONDS)
    return lambda: DarajaCredentials.parse(secret.read(), f"secret {secret.secret_id!r}")


def daraja(
    settings: DarajaSettings, credentials: Callable[[], DarajaCredentials], times: PullTimes | None = None
) -> DarajaClient:
    """Daraja's client. Its OAuth token stays in this container's memory, fetched once per container
    and hour: it is a bearer token for every payer's data for its hour, so it is kept in no table that
    other functions (or operators) may read (issue 31). What it costs: one OAuth call per cold start of
    the pull job, about 0.3 s. `times`: the clock of Pull's dates (DARAJA_PULL_TIMES)."""
    from tuma.adapters.http import Urllib3Http
    from tuma.daraja.client import DarajaClient
    from tuma.models.daraja import PullTimes

    return DarajaClient(
        settings.DARAJA_BASE_URL,
        credentials,
        Urllib3Http(5.0, settings.DARAJA_TIMEOUT),
        times=times or PullTimes.KENYA,
    )
