"""Composition root: real adapters for each function's settings. Functions call these once, at init.

Imports are inside the functions on purpose: each Lambda function pays at cold start only for the
adapters it uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tuma.runtime import aws

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from tuma.adapters.dynamodb_agenda import DynamoDBAgenda
    from tuma.adapters.dynamodb_ledger import DynamoDBLedger
    from tuma.adapters.dynamodb_templates import DynamoDBTemplates
    from tuma.adapters.secrets import JsonSecret, SecretsManagerWebhookSecrets
    from tuma.adapters.sqs_visibility import SqsVisibility
    from tuma.daraja.client import DarajaClient
    from tuma.models.daraja_credentials import DarajaCredentials
    from tuma.models.privacy import SendWindow
    from tuma.models.provider_answers import DeliveryReport
    from tuma.ports import Agenda, CredentialSource, MetricsSink, OutboxQueue, Sender
    from tuma.provider.client import ProviderClient
    from tuma.provider.failover import Transition
    from tuma.runtime.settings import DarajaSettings, LedgerSettings, PrivacySettings, ProviderSettings
    from tuma.runtime.settings.balance_monitor import BalanceSettings
    from tuma.runtime.settings.daraja_pull import PullSettings
    from tuma.runtime.settings.outbox_sender import SenderSettings
    from tuma.runtime.settings.payment_stream import StreamSettings
    from tuma.runtime.settings.reconciler import ReconcilerSettings
    from tuma.runtime.settings.status_events import StatusEventSettings
    from tuma.runtime.settings.status_notifier import StatusNotifierSettings
    from tuma.runtime.settings.webhooks import WebhookSettings
    from tuma.services.balance import BalanceMonitor
    from tuma.services.guards import Guards
    from tuma.services.intake import Intake
    from tuma.services.privacy import Privacy
    from tuma.services.pull import PullReconciler
    from tuma.services.reconciler import Reconciler
    from tuma.services.retention import RetentionSweep
    from tuma.services.send_path.pipeline import Dispatcher
    from tuma.services.status_events import StatusNotifier, StatusPublisher


def dynamodb() -> DynamoDBClient:
    """One client for the function, its pool as wide as the claims and ledger writes run at once."""
    return aws.client("dynamodb", pool=32)  # type: ignore[no-any-return]


def json_secret(secret_id: str, max_age: int) -> JsonSecret:
    from tuma.adapters.secrets import JsonSecret

    return JsonSecret(secret_id, aws.client("secretsmanager"), max_age)


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

    store = None
    if settings.STATE_TABLE:
        from tuma.adapters.dynamodb_state import DynamoDBStateStore

        store = DynamoDBStateStore(dynamodb(), settings.STATE_TABLE)
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
    from tuma.adapters.dynamodb_state import DynamoDBStateStore
    from tuma.provider.failover import Breaker, FailoverSender

    assert settings.STATE_TABLE is not None  # the settings refuse a secondary without it
    breaker = Breaker(
        DynamoDBStateStore(dynamodb(), settings.STATE_TABLE),
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


def ledger(settings: LedgerSettings, client: DynamoDBClient | None = None) -> DynamoDBLedger:
    from tuma.adapters.dynamodb_ledger import DynamoDBLedger

    return DynamoDBLedger(client or dynamodb(), settings.LEDGER_TABLE, settings.LEDGER_TTL_DAYS)


def agenda(settings: LedgerSettings, client: DynamoDBClient | None = None) -> DynamoDBAgenda:
    """What is due later, in the ledger's table."""
    from tuma.adapters.dynamodb_agenda import DynamoDBAgenda

    return DynamoDBAgenda(client or dynamodb(), settings.LEDGER_TABLE, settings.LEDGER_TTL_DAYS)


def outbox_dispatcher(
    settings: SenderSettings, metrics: MetricsSink, time_left: Callable[[], float] | None = None
) -> Dispatcher:
    from tuma.adapters.dynamodb_claims import DynamoDBClaims
    from tuma.services.send_path.batch import RetryDelays
    from tuma.services.send_path.pipeline import Dispatcher

    client = dynamodb()
    agenda_ = agenda(settings, client)
    queue = None
    if settings.OUTBOX_QUEUE_URL or settings.FAST_OUTBOX_QUEUE_URL:
        from tuma.adapters.sqs_outbox import SqsOutboxQueue

        url = settings.OUTBOX_QUEUE_URL or settings.FAST_OUTBOX_QUEUE_URL or ""
        queue = SqsOutboxQueue(
            None,
            url,
            settings.FAST_OUTBOX_QUEUE_URL,
            factory=lambda: aws.client("sqs"),
        )
    return Dispatcher(
        sender(settings, metrics, time_left=time_left),
        ledger(settings, client),
        DynamoDBClaims(client, settings.IDEMPOTENCY_TABLE, settings.IDEMPOTENCY_TTL_SECONDS),
        metrics,
        guards=guards(settings, client, agenda_, queue) if settings.STATE_TABLE else None,
        parking=queue,
        countries=frozenset(settings.ALLOWED_COUNTRY_CODES),
        max_parts=settings.SMS_MAX_PARTS,
        alert_recipients=settings.ALERT_RECIPIENTS,
        language=settings.DEFAULT_LANGUAGE,
        delays=RetryDelays(
            transient_base=settings.SMS_RETRY_BASE_SECONDS, provider_asked=settings.SMS_RETRY_LATER_SECONDS
        ),
        templates=templates(settings, client) if settings.TEMPLATES_TABLE else None,
        agenda=agenda_,
        first_check_seconds=settings.DLR_FIRST_CHECK_SECONDS,
        identity={"business": settings.BUSINESS_NAME, "business_contact": settings.BUSINESS_CONTACT},
        privacy=privacy(settings, client, require_consent=settings.REQUIRE_PROMOTIONAL_CONSENT),
        window=send_window(settings.PROMOTIONAL_WINDOW),
        footer=settings.PROMOTIONAL_FOOTER,
    )


def send_window(spec: str) -> SendWindow:
    from tuma.models.privacy import SendWindow

    return SendWindow(spec)


def privacy(
    settings: PrivacySettings, client: DynamoDBClient | None = None, *, require_consent: bool = True
) -> Privacy | None:
    """The suppression list and consent record; None when the stack has no privacy table."""
    if not settings.PRIVACY_TABLE or not settings.PRIVACY_SECRET:
        return None
    from tuma.adapters.dynamodb_privacy import DynamoDBPrivacyStore
    from tuma.adapters.secrets import SecretsManagerPrivacyKey
    from tuma.security.number_keys import NumberKeys
    from tuma.services.privacy import Privacy

    # Read once per container: the key never changes.
    key = SecretsManagerPrivacyKey(json_secret(settings.PRIVACY_SECRET, 10**9))
    return Privacy(
        DynamoDBPrivacyStore(client or dynamodb(), settings.PRIVACY_TABLE),
        NumberKeys(key),
        require_consent=require_consent,
    )


def templates(settings: SenderSettings, client: DynamoDBClient | None = None) -> DynamoDBTemplates:
    from tuma.adapters.dynamodb_templates import DynamoDBTemplates

    assert settings.TEMPLATES_TABLE
    return DynamoDBTemplates(client or dynamodb(), settings.TEMPLATES_TABLE, settings.TEMPLATE_CACHE_SECONDS)


def visibility(*queue_urls: str | None) -> SqsVisibility:
    """Postpones redeliveries; the function's own queues are known by URL, without sqs:GetQueueUrl."""
    from tuma.adapters.sqs_visibility import SqsVisibility

    return SqsVisibility(lambda: aws.client("sqs"), known_urls=[url for url in queue_urls if url])


def status_publisher(settings: StatusEventSettings, metrics: MetricsSink) -> StatusPublisher:
    from tuma.adapters.sqs_status_events import SqsStatusEventQueue
    from tuma.services.status_events import StatusPublisher

    return StatusPublisher(SqsStatusEventQueue(aws.client("sqs"), settings.STATUS_EVENTS_QUEUE_URL), metrics)


def status_notifier(settings: StatusNotifierSettings, metrics: MetricsSink) -> StatusNotifier:
    from tuma.adapters.http import Urllib3Http
    from tuma.services.status_events import StatusNotifier

    return StatusNotifier(
        Urllib3Http(connect_timeout=3.0, read_timeout=10.0),
        webhook_secrets(settings),
        settings.STATUS_CALLBACK_URL,
        metrics,
    )


def webhook_secrets(settings: WebhookSettings | StatusNotifierSettings) -> SecretsManagerWebhookSecrets:
    from tuma.adapters.secrets import SecretsManagerWebhookSecrets

    return SecretsManagerWebhookSecrets(
        json_secret(settings.WEBHOOK_SECRET, settings.CREDENTIALS_CACHE_SECONDS)
    )


def intake(settings: WebhookSettings | StreamSettings | PullSettings) -> Intake:
    from tuma.adapters.dynamodb_customers import DynamoDBCustomers
    from tuma.adapters.sqs_outbox import SqsOutboxQueue
    from tuma.services.intake import Intake

    table = settings.CUSTOMERS_TABLE
    client = dynamodb()
    return Intake(
        SqsOutboxQueue(aws.client("sqs"), settings.OUTBOX_QUEUE_URL, settings.FAST_OUTBOX_QUEUE_URL),
        ledger(settings, client),
        DynamoDBCustomers(client, table) if table else None,
        language=settings.DEFAULT_LANGUAGE,
        account_check=settings.C2B_ACCOUNT_CHECK,
        max_amount=settings.MAX_PAYMENT_AMOUNT,
    )


def balance_monitors(settings: BalanceSettings) -> dict[str, BalanceMonitor]:
    """One per provider: the primary's, and the secondary's when there is one."""
    from tuma.adapters.dynamodb_state import DynamoDBLowState
    from tuma.adapters.sqs_outbox import SqsOutboxQueue
    from tuma.services.balance import BalanceMonitor

    state = DynamoDBLowState(dynamodb(), settings.STATE_TABLE)
    queue = SqsOutboxQueue(aws.client("sqs"), settings.OUTBOX_QUEUE_URL, settings.FAST_OUTBOX_QUEUE_URL)
    monitors = {
        "primary": BalanceMonitor(
            provider_client(settings), state, queue, settings.LOW_CREDIT_THRESHOLD, settings.DEFAULT_LANGUAGE
        )
    }
    secondary = settings.secondary()
    if secondary is not None:
        monitors["secondary"] = BalanceMonitor(
            provider_client(secondary),
            state,
            queue,
            settings.LOW_CREDIT_THRESHOLD,
            settings.DEFAULT_LANGUAGE,
            name="secondary",
        )
    return monitors


def providers_get_dlr(
    settings: ReconcilerSettings, time_left: Callable[[], float] | None
) -> dict[str, Callable[[str], DeliveryReport | None]]:
    reports: dict[str, Callable[[str], DeliveryReport | None]] = {
        "primary": provider_client(settings, time_left=time_left).get_dlr
    }
    secondary = settings.secondary()
    if secondary is not None:
        reports["secondary"] = provider_client(secondary, time_left=time_left).get_dlr
    return reports


def reconciler(
    settings: ReconcilerSettings, metrics: MetricsSink, time_left: Callable[[], float] | None = None
) -> Reconciler:
    from datetime import timedelta

    from tuma.adapters.sqs_outbox import SqsOutboxQueue
    from tuma.services.reconciler import Patience, Reconciler

    ledger_client = dynamodb()
    return Reconciler(
        ledger(settings, ledger_client),
        agenda(settings, ledger_client),
        providers_get_dlr(settings, time_left),
        SqsOutboxQueue(aws.client("sqs"), settings.OUTBOX_QUEUE_URL, settings.FAST_OUTBOX_QUEUE_URL),
        metrics,
        patience=Patience(
            first_check=timedelta(seconds=settings.DLR_FIRST_CHECK_SECONDS),
            max_interval=timedelta(seconds=settings.DLR_MAX_INTERVAL_SECONDS),
            give_up_after=timedelta(hours=settings.DLR_GIVE_UP_HOURS),
            max_calls=settings.DLR_MAX_CALLS_PER_RUN,
            rate=settings.DLR_CALLS_PER_SECOND,
        ),
        time_left=time_left,
        privacy=privacy(settings),
        retention=retention(settings, ledger_client),
    )


def retention(settings: ReconcilerSettings, client: DynamoDBClient) -> RetentionSweep | None:
    if settings.RETENTION_DAYS == 0:
        return None
    from tuma.adapters.dynamodb_retention import DynamoDBRetention
    from tuma.services.retention import RetentionSweep

    return RetentionSweep(
        DynamoDBRetention(client, settings.LEDGER_TABLE),
        settings.RETENTION_DAYS,
        oldest_days=settings.LEDGER_TTL_DAYS,
    )


def daraja_credentials(settings: DarajaSettings) -> Callable[[], DarajaCredentials] | None:
    """The Daraja secret, read (and cached) when first needed; None when none is configured."""
    if not settings.DARAJA_SECRET:
        return None
    from tuma.models.daraja_credentials import DarajaCredentials

    secret = json_secret(settings.DARAJA_SECRET, settings.CREDENTIALS_CACHE_SECONDS)
    return lambda: DarajaCredentials.parse(secret.read(), f"secret {secret.secret_id!r}")


def daraja(
    settings: DarajaSettings, credentials: Callable[[], DarajaCredentials], state_table: str | None
) -> DarajaClient:
    """Daraja's client; its OAuth token shared through the state table by every caller."""
    from tuma.adapters.http import Urllib3Http
    from tuma.daraja.client import DarajaClient

    store = None
    if state_table:
        from tuma.adapters.dynamodb_state import DynamoDBStateStore

        store = DynamoDBStateStore(dynamodb(), state_table)
    return DarajaClient(
        settings.DARAJA_BASE_URL, credentials, Urllib3Http(5.0, settings.DARAJA_TIMEOUT), store
    )


def pull_reconciler(
    settings: PullSettings,
    credentials: Callable[[], DarajaCredentials],
    metrics: MetricsSink,
    time_left: Callable[[], float] | None = None,
) -> PullReconciler:
    from datetime import timedelta

    from tuma.adapters.dynamodb_state import DynamoDBStateStore
    from tuma.formatting.clock import now_utc
    from tuma.services.pull import PullReconciler

    return PullReconciler(
        daraja(settings, credentials, settings.STATE_TABLE),
        DynamoDBStateStore(dynamodb(), settings.STATE_TABLE),
        intake(settings),
        ledger(settings),
        metrics,
        short_codes=lambda: credentials().short_codes,
        overlap=timedelta(minutes=settings.DARAJA_PULL_OVERLAP_MINUTES),
        now=now_utc,
        time_left=time_left,
    )


def guards(
    settings: SenderSettings, client: DynamoDBClient, agenda: Agenda, queue: OutboxQueue | None
) -> Guards:
    from tuma.adapters.dynamodb_state import DynamoDBGuardStore
    from tuma.services.guards import Category, Guards, Limits

    assert settings.STATE_TABLE
    limits = Limits(
        daily_parts=settings.DAILY_PARTS_CAP,
        receipt_daily_parts=settings.RECEIPT_DAILY_PARTS_CAP,
        monthly_parts=settings.MONTHLY_PARTS_CAP,
        hourly={
            Category.RECEIPT: settings.RECIPIENT_HOURLY_LIMIT_RECEIPTS,
            Category.CODE: settings.RECIPIENT_HOURLY_LIMIT_CODES,
            Category.ALERT: settings.RECIPIENT_HOURLY_LIMIT_ALERTS,
            Category.MESSAGE: settings.RECIPIENT_HOURLY_LIMIT,
        },
        collapse_seconds=settings.ALERT_COLLAPSE_SECONDS,
        recheck_seconds=settings.GUARD_RECHECK_SECONDS,
    )
    return Guards(
        DynamoDBGuardStore(client, settings.STATE_TABLE),
        limits,
        queue=queue,
        agenda=agenda,
        alert_recipients=settings.ALERT_RECIPIENTS,
        language=settings.DEFAULT_LANGUAGE,
    )
