"""Composition root: real adapters from Settings. Functions call these once, at cold start."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import boto3

from tuma.config import Settings
from tuma.provider.client import ProviderClient, RetryPolicy, build_http_client
from tuma.provider.credentials import CredentialSource, SecretsManagerCredentials, from_environment

if TYPE_CHECKING:
    from tuma.dispatch import Dispatcher
    from tuma.observability import MetricsSink


def credentials(settings: Settings) -> CredentialSource:
    if settings.sms_credentials_secret:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        provider = SecretsProvider(boto3_client=boto3.client("secretsmanager"))
        return SecretsManagerCredentials(
            settings.sms_credentials_secret, provider, settings.credentials_cache_seconds
        )
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
    )
