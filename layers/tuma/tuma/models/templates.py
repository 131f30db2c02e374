"""The business's templates and receipt routing as data: what the sender renders with (a Catalog, one
per batch) and what the editors save (tuma.services.templates checks them before they are)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from tuma.formatting.rendering import packaged
from tuma.models.kinds import kind_of
from tuma.models.privacy import DEFAULT_FOOTER
from tuma.models.sources import PaymentSource
from tuma.models.validation import LANGUAGE, TEMPLATE_NAME

# A routing rule chooses by how the payment was learnt (tuma.models.sources.PaymentSource).
SOURCES = tuple(source.value for source in PaymentSource)


@dataclass(frozen=True)
class Rule:
    template: str
    language: str | None = None
    source: str | None = None  # None: any source
    short_code: str | None = None  # None: any paybill or till

    def matches(self, source: str | None, short_code: str | None) -> bool:
        return (self.source in (None, source)) and (self.short_code in (None, short_code))


@dataclass(frozen=True)
class Routing:
    rules: tuple[Rule, ...] = ()
    version: int = 0

    def route(self, source: str | None, short_code: str | None) -> Rule | None:
        """The first rule that fits, the most specific written first by convention."""
        return next((rule for rule in self.rules if rule.matches(source, short_code)), None)


def parse_routing(raw: Any) -> Routing:
    """Rules from their JSON form: `[{"template", "language"?, "source"?, "short_code"?}, ...]`;
    ValueError naming the rule that is wrong."""
    rules = raw.get("rules") if isinstance(raw, dict) else raw
    if not isinstance(rules, list):
        raise ValueError('routing must be a list of rules, or {"rules": [...]}')
    return Routing(tuple(_rule(position, rule) for position, rule in enumerate(rules, 1)))


def _rule(position: int, rule: Any) -> Rule:
    problem = _rule_problem(rule)
    if problem:
        raise ValueError(f"rule {position}{problem}")
    short_code = rule.get("short_code")
    return Rule(
        rule["template"],
        rule.get("language"),
        rule.get("source"),
        None if short_code is None else str(short_code),
    )


def _rule_problem(rule: Any) -> str | None:
    """What is wrong with one rule, worded to follow "rule N"; None when nothing is."""
    if not isinstance(rule, dict) or not isinstance(rule.get("template"), str):
        return " needs a template name"
    if set(rule) - {"template", "language", "source", "short_code"}:
        return " has fields other than template, language, source, short_code"
    if not TEMPLATE_NAME.match(rule["template"]):
        return f": {rule['template']!r} is not a template name"
    if rule.get("language") is not None and not LANGUAGE.match(str(rule["language"])):
        return ": language must be two letters such as en or sw"
    if rule.get("source") is not None and rule["source"] not in SOURCES:
        return f": source must be one of {', '.join(SOURCES)}"
    return None


@dataclass(frozen=True)
class StoredTemplate:
    name: str
    language: str
    kind: str
    text: str
    version: int = 0  # 0: the packaged default
    saved_at: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Catalog:
    """The templates and routing as they stood when a batch began: one batch, one wording."""

    templates: Mapping[tuple[str, str], StoredTemplate] = field(default_factory=dict)
    routing: Routing = field(default_factory=Routing)
    identity: Mapping[str, str] = field(default_factory=dict)
    footer: str = DEFAULT_FOOTER  # what a promotion ends with (PromotionalFooter)

    @cached_property
    def sources(self) -> dict[tuple[str, str], str]:
        return {key: t.text for key, t in self.templates.items()}

    def kind(self, name: str) -> str | None:
        for (stored, _), template in self.templates.items():
            if stored == name:
                return template.kind
        return kind_of(name)

    def routed(
        self, template: str, source: str | None, short_code: str | None, language: str
    ) -> tuple[str, str]:
        """The template and language a receipt gets, by the routing rules (the message's own when
        none fits); only receipts are routed."""
        if template != "receipt":
            return template, language
        rule = self.routing.route(source, short_code)
        if rule is None:
            return template, language
        return rule.template, rule.language or language

    def all(self) -> list[StoredTemplate]:
        """Every template a message can use: the stored ones, then the packaged defaults they replace."""
        merged = {
            key: StoredTemplate(key[0], key[1], kind_of(key[0]) or key[0], text)
            for key, text in packaged().items()
        }
        merged.update(self.templates)
        return sorted(merged.values(), key=lambda t: (t.name, t.language))
