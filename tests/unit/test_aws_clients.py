"""The process's botocore clients (tuma.runtime.aws): made without listing every AWS service."""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import UnknownServiceError
from tuma.runtime import aws


@pytest.fixture
def fresh_session(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A new session and no clients yet; the directories listed from then on."""
    monkeypatch.setattr(aws, "_session", None)
    monkeypatch.setattr(aws, "_clients", {})
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "af-south-1")
    listed: list[str] = []
    real = os.listdir

    def listdir(path: str = ".") -> list[str]:
        listed.append(str(path))
        return real(path)

    monkeypatch.setattr(os, "listdir", listdir)
    return listed


def test_a_client_lists_only_its_own_services_directories(fresh_session: list[str]) -> None:
    sqs = aws.client("sqs")
    dynamodb = aws.dynamodb()
    assert sqs.meta.service_model.service_name == "sqs"
    assert dynamodb.meta.service_model.service_name == "dynamodb"
    assert dynamodb.meta.region_name == "af-south-1"
    assert aws.client("sqs") is sqs  # one per service and process
    # botocore alone lists its whole data directory (424 services) and each service's own, twice.
    assert fresh_session and all(
        path.rstrip("/").rsplit("/", 1)[-1] in ("sqs", "dynamodb") for path in fresh_session
    )


def test_a_service_without_a_model_fails_as_botocore_fails_it(fresh_session: list[str]) -> None:
    with pytest.raises(UnknownServiceError) as raised:
        aws.client("sqss")
    assert "secretsmanager" in str(raised.value)  # botocore's own list of the valid names
