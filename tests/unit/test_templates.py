"""Templates as data: validation on save (every refusal reason), worst cases, routing, versions."""

from __future__ import annotations

from typing import Any

import pytest
from tuma.formatting.rendering import packaged
from tuma.models.sources import PaymentSource
from tuma.models.templates import Catalog, Routing, Rule, StoredTemplate, parse_routing
from tuma.services.templates import TemplateEditor, check_routing, validate

from tests.unit.fakes import MemoryTemplates

GOOD = "Dear {{ name }}, {{ business }} has received {{ amount | money }} for meter {{ account }}. Ref {{ reference }}."


def test_every_packaged_template_passes_its_own_checks_within_three_parts() -> None:
    for (name, language), text in packaged().items():
        verdict = validate(name, text, max_parts=3)
        assert verdict.ok, (name, language, verdict.reasons)
        assert verdict.best_parts == 1 and verdict.worst_parts is not None and verdict.worst_parts <= 3


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("{{ reference }} {{ amount | money }} {% if name %}", "line 1"),
        ("{{ reference }} {{ amount | money }} {{ meter }}", "uses meter, which a receipt does not have"),
        ("{{ reference }} {{ amount | wordcount }}", "uses the filter wordcount"),
        ("{{ reference }} {{ amount | money }} {{ name.upper() }}", "calls a function"),
        ("{{ reference }} {{ amount | money }} {{ name[0] }}", "reads an attribute or item"),
        ("{{ reference }} {{ amount | money }} {% if name is odd %}x{% endif %}", "uses the test odd"),
        ("Asante {{ name }} {{ amount | money }}", "must show reference"),
        ("{{ reference }} asante {{ name }}", "must show amount"),
        ("{{ reference }} {{ amount | money }} Asante 🙏", "characters an SMS cannot carry"),
        (
            "{{ reference }} {{ amount | money }} {{ name }}: ni furaha kwetu kukuhudumia, karibu tena! " * 4,
            "the limit is 3",
        ),
    ],
)
def test_a_template_that_would_fail_or_cost_too_much_is_refused_with_a_reason(text: str, reason: str) -> None:
    verdict = validate("receipt", text, max_parts=3)
    assert not verdict.ok and any(reason in r for r in verdict.reasons), verdict.reasons


def test_look_alikes_in_the_words_are_accepted_and_the_folded_text_shown() -> None:
    verdict = validate("receipt", "{{ reference }}: “Asante” — {{ amount | money }}…", max_parts=3)
    assert verdict.ok and verdict.folded == ': "Asante" - ...'


def test_worst_case_with_long_swahili_names_and_big_amounts_is_counted_in_parts() -> None:
    verdict = validate("receipt", GOOD, max_parts=3, identity={"business": "ACME Water"})
    assert verdict.ok and verdict.best_parts == 1 and verdict.worst_parts == 2
    assert verdict.best_text == "Dear , ACME Water has received KES 50.00 for meter . Ref QKX1AB2CD3."
    assert validate("receipt", GOOD, max_parts=1).reasons == [
        "with the longest names and amounts it needs 2 SMS parts; the limit is 1 (SMS_MAX_PARTS): shorten the fixed words"
    ]


def test_versions_every_save_and_any_version_can_be_current_again() -> None:
    store = MemoryTemplates()
    editor = TemplateEditor(store, max_parts=3, identity={"business": "ACME Water"})
    verdict, first = editor.put("receipt", "sw", "{{ reference }} Tumepokea {{ amount | money }}.")
    assert verdict.ok and first is not None and first.version == 1
    _, second = editor.put("receipt", "sw", "{{ reference }}: {{ business }} imepokea {{ amount | money }}.")
    assert second is not None and second.version == 2
    refused, nothing = editor.put("receipt", "sw", "Asante!")
    assert nothing is None and not refused.ok
    current = editor.current("receipt", "sw")
    assert current is not None and current.text.startswith(
        "{{ reference }}: {{ business }}"
    )  # refused left it
    editor.use("receipt", "sw", 1)
    current = editor.current("receipt", "sw")
    assert current is not None and current.text == "{{ reference }} Tumepokea {{ amount | money }}."
    assert [t.version for t in editor.history("receipt", "sw")] == [2, 1]


def test_a_new_template_needs_its_kind_and_keeps_it() -> None:
    editor = TemplateEditor(MemoryTemplates(), max_parts=3)
    verdict, saved = editor.put("receipt_water", "en", GOOD)
    assert saved is None and "say which kind" in verdict.reasons[0]
    _, saved = editor.put("receipt_water", "en", GOOD, kind="receipt")
    assert saved is not None and saved.kind == "receipt"
    verdict, saved = editor.put("receipt_water", "en", "{{ title }}", kind="alert")
    assert saved is None and "cannot become a alert" in verdict.reasons[-1]


def test_routing_picks_a_template_by_source_and_paybill_with_a_default() -> None:
    routing = parse_routing(
        [
            {"template": "receipt_water", "short_code": "600134", "language": "sw"},
            {"template": "receipt_school", "short_code": 600200},
            {"template": "receipt_stk", "source": "stk"},
        ]
    )
    catalog = Catalog(routing=routing)
    assert catalog.routed("receipt", "c2b", "600134", "en") == ("receipt_water", "sw")
    assert catalog.routed("receipt", "c2b", "600200", "en") == ("receipt_school", "en")
    assert catalog.routed("receipt", "stk", None, "en") == ("receipt_stk", "en")
    assert catalog.routed("receipt", "payments-table", None, "sw") == ("receipt", "sw")  # no rule: default
    assert catalog.routed("alert", "c2b", "600134", "en") == ("alert", "en")  # only receipts are routed


@pytest.mark.parametrize(
    ("rules", "reason"),
    [
        ({"rules": "x"}, "must be a list"),
        ([{"language": "sw"}], "needs a template name"),
        ([{"template": "Receipt!"}], "is not a template name"),
        ([{"template": "receipt", "source": "sms"}], "source must be one of"),
        ([{"template": "receipt", "colour": "red"}], "fields other than"),
    ],
)
def test_malformed_routing_is_refused_naming_the_rule(
    rules: dict[str, Any] | list[dict[str, Any]], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_routing(rules)


def test_a_rule_may_choose_any_way_a_payment_is_learnt() -> None:
    """Receipts for payments the pull or a status query found route like any other (one vocabulary:
    tuma.models.sources.PaymentSource)."""
    rules = [{"template": "receipt", "source": source.value} for source in PaymentSource]
    assert [rule.source for rule in parse_routing(rules).rules] == [s.value for s in PaymentSource]


def test_routing_to_a_template_that_is_missing_or_not_a_receipt_is_refused() -> None:
    catalog = Catalog({("receipt_water", "en"): StoredTemplate("receipt_water", "en", "receipt", GOOD)})
    routing = Routing((Rule("receipt_water"), Rule("nosuch"), Rule("alert")))
    assert check_routing(routing, catalog) == [
        "rule 2: there is no template 'nosuch'; save it first",
        "rule 3: 'alert' is a alert template, not a receipt",
    ]


def test_seeding_stores_the_packaged_templates_once() -> None:
    store = MemoryTemplates()
    editor = TemplateEditor(store, max_parts=3)
    assert len(editor.seed()) == len(packaged())
    assert editor.seed() == []
    assert {t.version for t in store.catalog().templates.values()} == {1}
