"""The layout docs/design.md describes: domain code imports no adapter, no AWS SDK, no Lambda type;
handlers take their settings from one validated model."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from tuma.errors import ConfigurationError
from tuma.runtime.settings import SenderSettings, StreamSettings, WebhookSettings, load

from tests.conftest import ROOT

PACKAGE = ROOT / "layers" / "tuma" / "tuma"
DOMAIN = ("models", "services", "formatting", "security")
FORBIDDEN = (
    "tuma.adapters",
    "tuma.runtime",
    "tuma.provider.client",
    "boto3",
    "botocore",
    "aws_lambda_powertools",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_code_imports_no_adapter_and_no_aws(package):
    offenders = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in (PACKAGE / package).rglob("*.py")
        for name in _imports(path)
        if name.startswith(FORBIDDEN)
    }
    assert offenders == set()


def test_ports_is_the_one_module_of_protocols():
    declaring = {
        str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if "(Protocol)" in path.read_text()
    }
    assert declaring == {"ports.py"}


def test_handlers_read_their_settings_through_one_model():
    for app in (ROOT / "functions").glob("*/app.py"):
        source = app.read_text()
        assert "os.environ" not in source, app
        assert "load(" in source and "Settings" in source, app


def test_a_missing_variable_is_named_at_init():
    with pytest.raises(ConfigurationError) as caught:
        load(SenderSettings, {"SMS_API_BASE_URL": "https://sms.example.com"})
    assert str(caught.value) == "SenderSettings: missing LEDGER_TABLE, IDEMPOTENCY_TABLE"


def test_a_malformed_variable_is_named_with_its_problem():
    base = {"OUTBOX_QUEUE_URL": "q", "LEDGER_TABLE": "l", "WEBHOOK_SECRET": "s"}
    with pytest.raises(ConfigurationError, match="WEBHOOK_MAX_BODY_BYTES"):
        load(WebhookSettings, base | {"WEBHOOK_MAX_BODY_BYTES": "lots"})
    with pytest.raises(ConfigurationError, match="C2B_ACCOUNT_CHECK needs CUSTOMERS_TABLE"):
        load(WebhookSettings, base | {"C2B_ACCOUNT_CHECK": "true"})


def test_empty_variables_count_as_unset_as_the_template_writes_them():
    settings = load(
        StreamSettings,
        {"OUTBOX_QUEUE_URL": "q", "LEDGER_TABLE": "l", "CUSTOMERS_TABLE": "", "ALERT_RECIPIENTS": ""},
    )
    assert settings.CUSTOMERS_TABLE is None and settings.ALERT_RECIPIENTS == ()
    listed = load(
        StreamSettings,
        {"OUTBOX_QUEUE_URL": "q", "LEDGER_TABLE": "l", "ALERT_RECIPIENTS": "0722 000 111; 0733000222"},
    )
    assert listed.ALERT_RECIPIENTS == ("0722 000 111", "0733000222")
