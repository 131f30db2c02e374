"""A template kind is described once (tuma.models.kinds): the lanes, the operator kinds, the dedupe
default and the guards' category are read from its entry, and its packaged wording passes its checks."""

from __future__ import annotations

import re

import pytest
from tuma.formatting.rendering import packaged
from tuma.models.kinds import KINDS
from tuma.models.outbox import OutboxMessage
from tuma.models.privacy import MessageCategory
from tuma.models.sending import ProviderRoute
from tuma.services.send_path.planning import ALERT_TEMPLATES, _category
from tuma.services.templates import validate

from tests.conftest import ROOT


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_kind_travels_as_its_entry_says(name: str) -> None:
    kind = KINDS[name]
    message = OutboxMessage.model_validate(
        {"idempotency_key": "k", "to": ["0712345678"], "template": name, "data": dict(kind.best)}
    )
    assert message.fast is kind.fast
    assert message.per_event is kind.per_event
    assert (name in ALERT_TEMPLATES) is kind.operator
    assert _category(name, ProviderRoute.SMS) == kind.guard
    assert not (kind.operator and kind.category is MessageCategory.PROMOTIONAL)


@pytest.mark.parametrize("name", sorted(KINDS))
@pytest.mark.parametrize("language", ["en", "sw"])
def test_each_kind_ships_wording_its_own_checks_accept(name: str, language: str) -> None:
    text = packaged()[(name, language)]
    verdict = validate(name, text, max_parts=3)
    assert verdict.ok, verdict.reasons


def _design() -> str:
    return (ROOT / "docs" / "design.md").read_text()


def test_design_md_describes_every_kind_as_its_entry_does() -> None:
    """The kinds table of docs/design.md lists each kind with its variables and what it must show."""
    table = _design().split("| kind | variables | must show |", 1)[1].split("\n\n", 1)[0]
    described: dict[str, tuple[set[str], set[str]]] = {}
    for names, variables, must_show in re.findall(r"^\| (.+?) \| (.+?) \| (.+?) \|$", table, re.MULTILINE):
        for name in re.findall(r"`(\w+)`", names):
            described[name] = (
                {v.strip() for v in variables.split(",")},
                {v.strip() for v in must_show.split(",")},
            )
    shared = {"business", "business_contact"}  # every kind may use them, as the text above the table says
    assert described == {
        name: (set(kind.variables) - shared, set(kind.must_show)) for name, kind in KINDS.items()
    }


def test_design_md_lists_every_packaged_template_and_each_lane_and_operator_kind() -> None:
    text = _design()
    packaged_names = {name for name, _ in packaged()}

    def listed(line_start: str) -> set[str]:
        line = next(line for line in text.splitlines() if line.startswith(line_start))
        return set(re.findall(r"`(\w+)`", line.split("|", 2)[2]))

    assert listed("| `template`, `data`, `language` |") >= packaged_names
    assert listed("| `to` |") >= {name for name, kind in KINDS.items() if kind.operator}
    fast_lane = listed("| `FastOutboxQueue`")
    assert {name for name, kind in KINDS.items() if kind.fast} <= fast_lane
    assert not {name for name, kind in KINDS.items() if not kind.fast} & fast_lane


def test_every_variable_the_cli_reads_is_marked_cli_in_the_configuration_table() -> None:
    from tuma_cli import stack

    read = {variable for _, _, variable in stack.TABLES.values()}
    for path in (ROOT / "src" / "tuma_cli").rglob("*.py"):
        read |= set(re.findall(r"os\.environ(?:\.get\(|\[)\"([A-Z][A-Z0-9_]+)\"", path.read_text()))
    table = _design().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    marked = {
        variable
        for line in table.splitlines()
        if line.startswith("| `") and "CLI" in line.split("|")[2]
        for variable in re.findall(r"`([A-Z0-9_]+)`", line.split("|")[1])
    }
    # The local topology's and the test harness's own, not a stack's configuration.
    local_only = {"TUMA_SAM", "TUMA_LOCAL_READY", "TUMA_LOCAL_AWS_CALLS"}
    assert read - local_only - marked == set()
