"""The layout docs/design.md describes: domain code imports no adapter, no AWS SDK, no Lambda type;
handlers take their settings from one validated model."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from tuma.errors import ConfigurationError
from tuma.runtime.settings import load
from tuma.runtime.settings.outbox_sender import SenderSettings
from tuma.runtime.settings.payment_stream import StreamSettings
from tuma.runtime.settings.webhooks import WebhookSettings

from tests.conftest import ROOT

PACKAGE = ROOT / "layers" / "tuma" / "tuma"
# The domain, as docs/design.md ("Dependencies") names it: the packages and modules that do no I/O,
# including the provider's and Daraja's vocabularies (what their answers and codes mean).
DOMAIN_PACKAGES = ("models", "services", "formatting", "security")
DOMAIN_MODULES = (
    "tuma.ports",
    "tuma.errors",
    "tuma.batching",
    "tuma.models.provider_codes",
    "tuma.models.provider_answers",
    "tuma.models.delivery_callback",
    "tuma.models.provider_credentials",
    "tuma.models.daraja_credentials",
)
# What the domain may import besides itself and the standard library.
THIRD_PARTY = ("pydantic", "pydantic_core", "jinja2", "phonenumbers", "markupsafe")


def _module(path: Path) -> str:
    return ".".join(("tuma", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")


def _domain() -> dict[str, Path]:
    found = {_module(p): p for package in DOMAIN_PACKAGES for p in (PACKAGE / package).rglob("*.py")}
    found |= {name: PACKAGE.joinpath(*name.split(".")[1:]).with_suffix(".py") for name in DOMAIN_MODULES}
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _allowed(name: str, domain: set[str]) -> bool:
    top = name.split(".", maxsplit=1)[0]
    if top == "tuma":
        return (
            name in domain
            or name.startswith(tuple(f"tuma.{p}." for p in DOMAIN_PACKAGES))
            or name in {f"tuma.{p}" for p in DOMAIN_PACKAGES}
        )
    return top in sys.stdlib_module_names or top in THIRD_PARTY or top == "__future__"


def test_the_domain_imports_only_the_domain_pydantic_jinja_and_phonenumbers() -> None:
    domain = _domain()
    assert all(path.exists() for path in domain.values())
    offenders = {
        f"{name}: {imported}"
        for name, path in domain.items()
        for imported in _imports(path)
        if not _allowed(imported, set(domain))
    }
    assert offenders == set()


def test_the_rule_catches_what_it_forbids() -> None:
    domain = set(_domain())
    for forbidden in (
        "tuma.adapters.dynamodb_ledger",
        "tuma.runtime.wiring",
        "tuma.provider.client",
        "tuma.provider.failover",
        "tuma.daraja.client",
        "boto3",
        "botocore.exceptions",
        "urllib3",
        "aws_lambda_powertools",
    ):
        assert not _allowed(forbidden, domain), forbidden


def test_ports_imports_only_the_models_it_carries() -> None:
    """ports.py is a plain list of interfaces: the types they carry have their home in `models`."""
    imported = {name for name in _imports(PACKAGE / "ports.py") if name.startswith("tuma")}
    assert imported and all(name.startswith("tuma.models.") for name in imported), imported


def test_every_type_has_one_home_no_service_declares_a_type_a_port_carries() -> None:
    """A port's types come from `models`; a service declares none of them (no import circle in types)."""
    carried = {
        alias.name
        for node in ast.walk(ast.parse((PACKAGE / "ports.py").read_text()))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tuma.models")
        for alias in node.names
    }
    declared_in_services = {
        node.name
        for path in (PACKAGE / "services").rglob("*.py")
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.ClassDef)
    }
    assert carried & declared_in_services == set()


def test_ports_is_the_one_module_of_protocols() -> None:
    declaring = {
        str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if "(Protocol)" in path.read_text()
    }
    assert declaring == {"ports.py"}


def test_handlers_read_their_settings_through_one_model() -> None:
    for app in (ROOT / "functions").glob("*/app.py"):
        source = app.read_text()
        assert "os.environ" not in source, app
        assert "load(" in source and "Settings" in source, app


def test_a_missing_variable_is_named_at_init() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(SenderSettings, {"SMS_API_BASE_URL": "https://sms.example.com"})
    assert str(caught.value) == "SenderSettings: missing LEDGER_TABLE, IDEMPOTENCY_TABLE"


def test_a_malformed_variable_is_named_with_its_problem() -> None:
    base = {
        "OUTBOX_QUEUE_URL": "q",
        "LEDGER_TABLE": "l",
        "WEBHOOK_SECRET": "s",
        "API_KEYS_SECRET": "k",
        "STATE_TABLE": "t",
        "DARAJA_CALLBACK_IPS": "open",
    }
    with pytest.raises(ConfigurationError, match="WEBHOOK_MAX_BODY_BYTES"):
        load(WebhookSettings, base | {"WEBHOOK_MAX_BODY_BYTES": "lots"})
    with pytest.raises(ConfigurationError, match="C2B_ACCOUNT_CHECK needs CUSTOMERS_TABLE"):
        load(WebhookSettings, base | {"C2B_ACCOUNT_CHECK": "true"})
    with pytest.raises(ConfigurationError, match=r"DARAJA_CALLBACK_IPS .*not IP addresses"):
        load(WebhookSettings, base | {"DARAJA_CALLBACK_IPS": "safaricom"})


def test_empty_variables_count_as_unset_as_the_template_writes_them() -> None:
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
def test_the_collector_is_off_for_the_imports_and_back_on_with_init_frozen(app: Path) -> None:
    body = ast.parse(app.read_text()).body
    statements = [ast.unparse(node) for node in body]
    first_import = next(i for i, node in enumerate(body) if _is_import_after_gc(node))
    assert statements.index("gc.disable()") < first_import
    assert statements[-2:] == ["gc.freeze()", "gc.enable()"]


def test_a_function_loaded_in_process_leaves_the_collector_on_even_when_its_init_fails(
    tmp_path: Path,
) -> None:
    import gc

    from tuma_cli.local.functions import load_module

    (tmp_path / "app.py").write_text(
        "import gc\ngc.disable()\ngc.freeze()\nraise RuntimeError('bad setting')\n"
    )
    with pytest.raises(RuntimeError, match="bad setting"):
        load_module(tmp_path)
    assert gc.isenabled() and gc.get_freeze_count() == 0


def _cli_graph() -> dict[str, set[str]]:
    root = ROOT / "src" / "tuma_cli"

    def name(path: Path) -> str:
        return ".".join(("tuma_cli", *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")

    modules = {name(p): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tuma_cli"):
                # `from tuma_cli import stack` names a module; `from tuma_cli.stack import x` names one too.
                for alias in node.names:
                    candidate = f"{node.module}.{alias.name}"
                    found.add(candidate if candidate in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in modules)
        graph[module] = {m for m in found if m in modules and m not in (module, "tuma_cli")}
    return graph


def test_the_cli_has_no_import_circle_even_through_deferred_imports() -> None:
    graph = _cli_graph()
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        for following in sorted(graph[module]):
            if following in path:
                circles.append([*path[path.index(following) :], following])
            elif len(path) < 12:
                visit(following, [*path, following])

    for start in sorted(graph):
        visit(start, [start])
    assert circles == []


def test_every_port_has_an_adapter_that_declares_it() -> None:
    """Adapters subclass the port they implement, as the fakes do: mypy holds both to it."""
    import importlib
    import inspect
    import typing

    import tuma.ports

    edges = ("adapters", "provider", "daraja", "runtime")
    classes = [
        value
        for package in edges
        for path in (PACKAGE / package).rglob("*.py")
        if path.name != "__init__.py" and "settings" not in path.parts
        for value in vars(importlib.import_module(_module(path))).values()
        if inspect.isclass(value) and value.__module__ == _module(path)
    ]
    ports = [
        value
        for value in vars(tuma.ports).values()
        if inspect.isclass(value)
        and typing.Protocol in value.__mro__[1:]
        and value.__module__ == "tuma.ports"
    ]
    assert len(ports) > 20
    undeclared = [port.__name__ for port in ports if not any(port in cls.__mro__ for cls in classes)]
    assert undeclared == []


def test_only_the_adapters_know_the_aws_library_and_its_errors() -> None:
    """botocore's errors stop at the adapters (tuma.adapters.aws_errors): no service, route or handler
    imports the AWS library; `runtime.aws` makes the clients the wiring hands to the adapters."""
    sources = [*PACKAGE.rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    knowing = {
        str(path.relative_to(ROOT))
        for path in sources
        if any(name.split(".")[0] in ("boto3", "botocore") for name in _imports(path))
    }
    assert knowing and all(
        name.startswith("layers/tuma/tuma/adapters/") or name == "layers/tuma/tuma/runtime/aws.py"
        for name in knowing
    ), knowing


def test_the_provider_daraja_and_status_urls_must_be_https_except_on_this_machine() -> None:
    import re

    import yaml
    from tuma.runtime.settings.status_notifier import StatusNotifierSettings

    base = {"STATUS_EVENTS_QUEUE_URL": "q", "STATUS_WEBHOOK_SECRET": "s"}
    with pytest.raises(ConfigurationError, match="STATUS_CALLBACK_URL"):
        load(StatusNotifierSettings, base | {"STATUS_CALLBACK_URL": "http://shop.example/tuma"})
    assert load(StatusNotifierSettings, base | {"STATUS_CALLBACK_URL": "https://shop.example/tuma"})
    with pytest.raises(ConfigurationError, match="SMS_API_BASE_URL"):
        load(
            SenderSettings,
            {
                "SMS_API_BASE_URL": "http://quicksms.advantasms.com",
                "LEDGER_TABLE": "l",
                "IDEMPOTENCY_TABLE": "i",
            },
        )

    class Tagged(yaml.SafeLoader):
        pass

    Tagged.add_multi_constructor("!", lambda loader, suffix, node: None)
    parameters = yaml.load((ROOT / "template.yaml").read_text(), Tagged)["Parameters"]  # noqa: S506
    for name in ("ProviderBaseUrl", "SecondaryProviderBaseUrl", "DarajaBaseUrl", "StatusCallbackUrl"):
        allowed = re.compile(parameters[name]["AllowedPattern"])
        assert allowed.fullmatch("https://api.example.co.ke"), name
        assert allowed.fullmatch("http://127.0.0.1:4010"), name  # the local topology's simulators
        assert not allowed.fullmatch("http://api.example.co.ke"), name
