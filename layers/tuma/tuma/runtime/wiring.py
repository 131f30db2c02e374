"""Composition root: real adapters for each function's settings. Functions call these once, at init.

Imports are inside the functions on purpose: each Lambda function pays at cold start only for the
adapters it uses. The two APIs' clients (the SMS provider's, Daraja's) are built in
`tuma.runtime.api_clients`, which the operator's commands use too.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from tuma.runtime import aws
from tuma.runtime.api_clients import (
    daraja,
    json_secret,
    provider_clients,
    providers_get_dlr,
    sender,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from tuma.adapters.dynamodb_agenda import DynamoDBAgenda
    from tuma.adapters.dynamodb_ledger import DynamoDBLedger
    from tuma.adapters.dynamodb_templates import DynamoDBTemplates
    from tuma.adapters.secrets import SecretsManagerWebhookSecrets
    from tuma.adapters.sqs_outbox import SqsOutboxQueue
    from tuma.adapters.sqs_visibility import SqsVisibility
    from tuma.models.daraja_credentials import DarajaCredentials
    from tuma.ports import Agenda, ApiKeys, MetricsSink, Migration, OutboxQueue, ReplayGuard
    from tuma.runtime.settings import (
        LedgerSettings,
        OutboxSettings,
        PrivacySettings,
    )
    from tuma.runtime.settings.balance_monitor import BalanceSettings
    from tuma.runtime.settings.daraja_pull import PullSettings
    from tuma.runtime.settings.outbox_sender import SenderSettings
    from tuma.runtime.settings.payment_stream import StreamSettings
    from tuma.runtime.settings.reconciler import ReconcilerSettings
    from tuma.runtime.settings.status_events import StatusEventSettings
    from tuma.runtime.settings.status_notifier import StatusNotifierSettings
    from tuma.runtime.settings.webhooks import WebhookSettings
    from tuma.security.number_keys import NumberKeys
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
    return aws.dynamodb()  # type: ignore[no-any-return]


def outbox(settings: OutboxSettings) -> SqsOutboxQueue:
    """Both lanes of the outbox, for services that queue messages."""
    from tuma.adapters.sqs_outbox import SqsOutboxQueue

    return SqsOutboxQueue(aws.client("sqs"), settings.OUTBOX_QUEUE_URL, settings.FAST_OUTBOX_QUEUE_URL)


def ledger(settings: LedgerSettings, client: DynamoDBClient | None = None) -> DynamoDBLedger:
    from tuma.adapters.dynamodb_ledger import DynamoDBLedger

    return DynamoDBLedger(
        client or dynamodb(),
        settings.LEDGER_TABLE,
        settings.LEDGER_TTL_DAYS,
        may_query=settings.LEDGER_QUERIES,
    )


def agenda(settings: LedgerSettings, client: DynamoDBClient | None = None) -> DynamoDBAgenda:
    """What is due later, in the ledger's table."""
    from tuma.adapters.dynamodb_agenda import DynamoDBAgenda

    return DynamoDBAgenda(
        client or dynamodb(),
        settings.LEDGER_TABLE,
        settings.LEDGER_TTL_DAYS,
        may_query=settings.LEDGER_QUERIES,
    )


def outbox_dispatcher(
    settings: SenderSettings, metrics: MetricsSink, time_left: Callable[[], float] | None = None
) -> Dispatcher:
    from tuma.adapters.dynamodb_claims import DynamoDBClaims
    from tuma.models.privacy import SendWindow
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
        delays=settings.retry_delays(),
        templates=templates(settings, client) if settings.TEMPLATES_TABLE else None,
        agenda=agenda_,
        first_check_seconds=settings.DLR_FIRST_CHECK_SECONDS,
        identity={"business": settings.BUSINESS_NAME, "business_contact": settings.BUSINESS_CONTACT},
        privacy=privacy(settings, client, require_consent=settings.REQUIRE_PROMOTIONAL_CONSENT),
        window=SendWindow(settings.PROMOTIONAL_WINDOW),
        footer=settings.PROMOTIONAL_FOOTER,
    )


def privacy(
    settings: PrivacySettings, client: DynamoDBClient | None = None, *, require_consent: bool = True
) -> Privacy | None:
    """The suppression list and consent record; None when the stack has no privacy table."""
    if not settings.PRIVACY_TABLE or not settings.PRIVACY_SECRET:
        return None
    from tuma.adapters.dynamodb_privacy import DynamoDBPrivacyStore
    from tuma.services.privacy import Privacy

    keys = number_keys(settings)
    assert keys is not None
    return Privacy(
        DynamoDBPrivacyStore(client or dynamodb(), settings.PRIVACY_TABLE),
        keys,
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
        status_signing_secrets(settings),
        settings.STATUS_CALLBACK_URL,
        metrics,
    )


def status_signing_secrets(settings: StatusNotifierSettings) -> Callable[[], list[str]]:
    """The status events' signing secrets still live (the current one, and a rotated one in its
    grace), read from STATUS_WEBHOOK_SECRET through the secrets cache."""
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from tuma.errors import ConfigurationError
    from tuma.models.callback_tokens import CallbackToken

    secret = json_secret(settings.STATUS_WEBHOOK_SECRET, settings.CREDENTIALS_CACHE_SECONDS)

    def live() -> list[str]:
        try:
            stored = CallbackToken.model_validate(secret.read())
        except ValidationError:
            raise ConfigurationError(f"secret {secret.secret_id!r} needs a token of 32+ characters") from None
        now = datetime.now(UTC)
        return [stored.token.get_secret_value()] + [
            old.token.get_secret_value() for old in stored.previous if old.until > now
        ]

    return live


def webhook_secrets(settings: WebhookSettings) -> SecretsManagerWebhookSecrets:
    from tuma.adapters.secrets import SecretsManagerWebhookSecrets
    from tuma.models.callback_tokens import Caller

    age = settings.CREDENTIALS_CACHE_SECONDS
    named = {
        Caller.DARAJA: getattr(settings, "DARAJA_CALLBACK_SECRET", None),
        Caller.PROVIDER: getattr(settings, "PROVIDER_CALLBACK_SECRET", None),
    }
    callers = {caller: json_secret(secret_id, age) for caller, secret_id in named.items() if secret_id}
    return SecretsManagerWebhookSecrets(json_secret(settings.WEBHOOK_SECRET, age), callers)


def api_keys(settings: WebhookSettings) -> ApiKeys:
    from tuma.adapters.secrets import SecretsManagerApiKeys

    return SecretsManagerApiKeys(json_secret(settings.API_KEYS_SECRET, settings.CREDENTIALS_CACHE_SECONDS))


def replay_guard(settings: WebhookSettings) -> ReplayGuard:
    from tuma.adapters.dynamodb_state import DynamoDBReplayGuard

    return DynamoDBReplayGuard(dynamodb(), settings.STATE_TABLE)


def intake(settings: WebhookSettings | StreamSettings | PullSettings) -> Intake:
    from tuma.adapters.dynamodb_customers import DynamoDBCustomers
    from tuma.services.intake import Intake

    table = settings.CUSTOMERS_TABLE
    client = dynamodb()
    ledger_ = ledger(settings, client)
    threshold = Decimal(getattr(settings, "CONFIRM_PAYMENTS_FROM", 0))
    confirmations = None
    if threshold:
        from tuma.services.confirmation import Confirmations

        confirmations = Confirmations(outbox(settings), ledger_, threshold=threshold)
    return Intake(
        outbox(settings),
        ledger_,
        DynamoDBCustomers(client, table) if table else None,
        language=settings.DEFAULT_LANGUAGE,
        account_check=settings.C2B_ACCOUNT_CHECK,
        max_amount=settings.MAX_PAYMENT_AMOUNT,
        short_codes=frozenset(getattr(settings, "BUSINESS_SHORT_CODES", ())),
        confirmations=confirmations,
    )


def balance_monitors(settings: BalanceSettings) -> dict[str, BalanceMonitor]:
    """One per provider: the primary's, and the secondary's when there is one."""
    from tuma.adapters.dynamodb_state import DynamoDBLowState
    from tuma.services.balance import BalanceMonitor

    state = DynamoDBLowState(dynamodb(), settings.STATE_TABLE)
    queue = outbox(settings)
    return {
        # The primary's monitor keeps the state name it had before there was a secondary.
        name: BalanceMonitor(
            client,
            state,
            queue,
            settings.LOW_CREDIT_THRESHOLD,
            settings.DEFAULT_LANGUAGE,
            name=None if name == "primary" else name,
        )
        for name, client in provider_clients(settings).items()
    }


def reconciler(
    settings: ReconcilerSettings, metrics: MetricsSink, time_left: Callable[[], float] | None = None
) -> Reconciler:
    from tuma.adapters.dynamodb_ledger_walks import LegacyRefsRekey, RecipientsBackfill
    from tuma.services.reconciler import Reconciler

    ledger_client = dynamodb()
    table, days = settings.LEDGER_TABLE, settings.LEDGER_TTL_DAYS
    keys = number_keys(settings)
    # What an upgrade to 0.3.0 left to do on older entries (docs/design.md, *Found by key alone*).
    migrations: tuple[Migration, ...] = (RecipientsBackfill(ledger_client, table, days),)
    if keys is not None:
        migrations += (LegacyRefsRekey(ledger_client, table, keys, days),)
    return Reconciler(
        ledger(settings, ledger_client),
        agenda(settings, ledger_client),
        providers_get_dlr(settings, time_left),
        outbox(settings),
        metrics,
        patience=settings.patience(),
        time_left=time_left,
        privacy=privacy(settings),
        retention=retention(settings, ledger_client),
        migrations=migrations,
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
        daraja(settings, credentials, settings.DARAJA_PULL_TIMES),
        DynamoDBStateStore(dynamodb(), settings.STATE_TABLE),
        intake(settings),
        ledger(settings),
        metrics,
        short_codes=lambda: credentials().short_codes,
        overlap=timedelta(minutes=settings.DARAJA_PULL_OVERLAP_MINUTES),
        now=now_utc,
        time_left=time_left,
        confirm_within=timedelta(seconds=settings.DARAJA_CONFIRM_WITHIN_SECONDS),
        grace=timedelta(seconds=settings.DARAJA_PULL_GRACE_SECONDS),
        times=settings.DARAJA_PULL_TIMES,
        max_rows=settings.DARAJA_PULL_MAX_ROWS,
    )


def guards(
    settings: SenderSettings, client: DynamoDBClient, agenda: Agenda, queue: OutboxQueue | None
) -> Guards:
    from tuma.adapters.dynamodb_state import DynamoDBGuardStore
    from tuma.services.guards import Guards

    assert settings.STATE_TABLE
    return Guards(
        DynamoDBGuardStore(client, settings.STATE_TABLE),
        settings.guard_limits(),
        queue=queue,
        agenda=agenda,
        alert_recipients=settings.ALERT_RECIPIENTS,
        language=settings.DEFAULT_LANGUAGE,
        number_keys=number_keys(settings),
    )


_number_keys: dict[str, NumberKeys] = {}


def number_keys(settings: PrivacySettings) -> NumberKeys | None:
    """Numbers' keyed hashes (the privacy key, read when first needed, once per container), also the
    process's names for numbers in the ledger (`Recipient.ref`); None without the secret."""
    if not settings.PRIVACY_SECRET:
        return None
    from tuma.security import number_keys as names

    keys = _number_keys.get(settings.PRIVACY_SECRET)
    if keys is None:
        from tuma.adapters.secrets import SecretsManagerPrivacyKey

        keys = names.NumberKeys(SecretsManagerPrivacyKey(json_secret(settings.PRIVACY_SECRET, 10**9)))
        _number_keys[settings.PRIVACY_SECRET] = keys
    return names.use(keys)
