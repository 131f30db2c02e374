"""The layout docs/design.md describes: domain code imports no adapter, no AWS SDK, no Lambda type;
handlers take their settings from one validated model."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from tuma.errors import ConfigurationError
from tuma.runtime.settings import load
from tuma.runtime.settings.outbox_sender import SenderSettings
from tuma.runtime.settings.payment_stream import StreamSettings
from tuma.runtime.settings.webhooks import WebhookSettings

from tests.conftest import ROOT

PACKAGE = ROOT / "layers" / "tuma" / "tuma"
DOMAIN = ("models", "services", "formatting", "security")
FORBIDDEN = (
    "tuma.adapters",
    "tuma.runtime",
    "tuma.provider.client",
    "boto3",
    "botocore",
    "urllib3",
    "httpx",
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


def _is_import_after_gc(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.module != "__future__"
    return isinstance(node, ast.Import) and node.names[0].name != "gc"


@pytest.mark.parametrize("app", sorted((ROOT / "functions").glob("*/app.py")), ids=lambda p: p.parent.name)
def test_the_collector_is_off_for_the_imports_and_back_on_with_init_frozen(app):
    body = ast.parse(app.read_text()).body
    statements = [ast.unparse(node) for node in body]
    first_import = next(i for i, node in enumerate(body) if _is_import_after_gc(node))
    assert statements.index("gc.disable()") < first_import
    assert statements[-2:] == ["gc.freeze()", "gc.enable()"]


def test_a_function_loaded_in_process_leaves_the_collector_on_even_when_its_init_fails(tmp_path):
    import gc

    from tuma_cli.local.functions import load_module

    (tmp_path / "app.py").write_text(
        "import gc\ngc.disable()\ngc.freeze()\nraise RuntimeError('bad setting')\n"
    )
    with pytest.raises(RuntimeError, match="bad setting"):
        load_module(tmp_path)
    assert gc.isenabled() and gc.get_freeze_count() == 0
