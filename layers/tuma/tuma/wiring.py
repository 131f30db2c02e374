"""Composition root: real adapters from Settings. Functions call these once, at cold start."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import boto3

from tuma.adapters.json_secret import JsonSecret
from tuma.config import ConfigurationError, Settings
from tuma.provider.client import ProviderClient, RetryPolicy, build_http_client
from tuma.provider.credentials import CredentialSource, SecretsManagerCredentials, from_environment

if TYPE_CHECKING:
    from tuma.adapters.dynamodb_ledger import DynamoDBLedger
    from tuma.balance import BalanceMonitor
    from tuma.dispatch import Dispatcher
    from tuma.intake import Intake
    from tuma.observability import MetricsSink
    from tuma.webhook_gate import WebhookSecret


def json_secret(settings: Settings, secret_id: str) -> JsonSecret:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    provider = SecretsProvider(boto3_client=boto3.client("secretsmanager"))
    return JsonSecret(secret_id, provider, settings.credentials_cache_seconds)


def credentials(settings: Settings) -> CredentialSource:
    if settings.sms_credentials_secret:
        return SecretsManagerCredentials(json_secret(settings, settings.sms_credentials_secret))
    return from_environment()


def provider_client(
    settings: Settings, source: CredentialSource | None = None, time_left: Callable[[], float] | None = None
) -> ProviderClient:
    settings.require("sms_api_base_url")
    return ProviderClient(
        settings.sms_api_base_url,
        source or credentials(settings),
        build_http_client(settings.sms_connect_timeout, settings.sms_read_timeout),
        bulk_limit=settings.sms_bulk_limit,
        comma_limit=settings.sms_comma_limit,
        retry=RetryPolicy(attempts=settings.sms_max_attempts),
        time_left=time_left,
    )


def outbox_dispatcher(
    settings: Settings, metrics: MetricsSink, time_left: Callable[[], float] | None = None
) -> Dispatcher:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from tuma.adapters.dynamodb_ledger import DynamoDBLedger
    from tuma.claims import PowertoolsClaims
    from tuma.dispatch import Dispatcher

    settings.require("ledger_table", "idempotency_table", "sms_api_base_url")
    assert settings.ledger_table and settings.idempotency_table
    dynamodb = boto3.client("dynamodb")
    return Dispatcher(
        provider_client(settings, time_left=time_left),
        DynamoDBLedger(dynamodb, settings.ledger_table, settings.ledger_ttl_days),
        PowertoolsClaims(
            DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=dynamodb),
            settings.idempotency_ttl_seconds,
        ),
        metrics,
        max_parts=settings.sms_max_parts,
        alert_recipients=settings.alert_recipients,
        language=settings.default_language,
    )


class SecretsManagerWebhookSecrets:
    """`{"path_token", "hmac_key"}` from WEBHOOK_SECRET, cached like the provider credentials."""

    def __init__(self, secret: JsonSecret) -> None:
        self._secret = secret

    def current(self) -> WebhookSecret:
        from pydantic import ValidationError

        from tuma.webhook_gate import WebhookSecret

        try:
            return WebhookSecret.model_validate(self._secret.read())
        except ValidationError:
            raise ConfigurationError(
                f"secret {self._secret.secret_id!r} needs path_token and hmac_key of 16+ characters"
            ) from None


def webhook_secrets(settings: Settings) -> SecretsManagerWebhookSecrets:
    settings.require("webhook_secret")
    assert settings.webhook_secret
    return SecretsManagerWebhookSecrets(json_secret(settings, settings.webhook_secret))


def ledger(settings: Settings) -> DynamoDBLedger:
    from tuma.adapters.dynamodb_ledger import DynamoDBLedger

    settings.require("ledger_table")
    assert settings.ledger_table
    return DynamoDBLedger(boto3.client("dynamodb"), settings.ledger_table, settings.ledger_ttl_days)


def intake(settings: Settings) -> Intake:
    from tuma.adapters.dynamodb_customers import DynamoDBCustomers
    from tuma.adapters.dynamodb_ledger import DynamoDBLedger
    from tuma.adapters.sqs_outbox import SqsOutboxQueue
    from tuma.intake import Intake

    settings.require("outbox_queue_url", "ledger_table")
    assert settings.outbox_queue_url and settings.ledger_table
    dynamodb = boto3.client("dynamodb")
    directory = DynamoDBCustomers(dynamodb, settings.customers_table) if settings.customers_table else None
    if settings.c2b_account_check and directory is None:
        raise ConfigurationError("C2B_ACCOUNT_CHECK needs CUSTOMERS_TABLE")
    return Intake(
        SqsOutboxQueue(boto3.client("sqs"), settings.outbox_queue_url),
        DynamoDBLedger(dynamodb, settings.ledger_table, settings.ledger_ttl_days),
        directory,
        language=settings.default_language,
        account_check=settings.c2b_account_check,
    )


def balance_monitor(settings: Settings) -> BalanceMonitor:
    from tuma.adapters.dynamodb_state import DynamoDBLowState
    from tuma.adapters.sqs_outbox import SqsOutboxQueue
    from tuma.balance import BalanceMonitor

    settings.require("state_table", "outbox_queue_url", "sms_api_base_url")
    assert settings.state_table and settings.outbox_queue_url
    return BalanceMonitor(
        provider_client(settings),
        DynamoDBLowState(boto3.client("dynamodb"), settings.state_table),
        SqsOutboxQueue(boto3.client("sqs"), settings.outbox_queue_url),
        settings.low_credit_threshold,
        settings.default_language,
    )
