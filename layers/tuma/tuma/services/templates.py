"""The business's own words: templates kept as data, checked when they are saved, never at send time.

A template has a kind (receipt, code, alert, alarm, alarm_ok, low_credit, promotion): the kind says which variables
it may use, which of them it must show, and the longest value each can carry after Tuma's data rules
(`tuma.models.kinds.DATA_LIMITS`). Saving renders it with the best and the worst data its
kind allows: a template that would fail, or cost more than `SMS_MAX_PARTS`, is refused with a
reason its author can act on. Routing rules pick which receipt template (and language) a payment
gets, by source and by paybill or till number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateSyntaxError, meta, nodes

from tuma.formatting.gsm7 import TextRejected, count_parts, count_septets, fold, prepare
from tuma.formatting.rendering import (
    FALLBACK_LANGUAGE,
    FILTERS,
    environment,
    packaged,
    render_source,
)
from tuma.models.kinds import KINDS, Kind, TemplateError, kind_of
from tuma.models.privacy import DEFAULT_FOOTER, MessageCategory, with_footer
from tuma.models.templates import Catalog, Routing, StoredTemplate, parse_routing
from tuma.models.validation import LANGUAGE, TEMPLATE_NAME

if TYPE_CHECKING:
    from tuma.ports import TemplateStore

# Jinja's own filters a non-developer may need; anything else (and every function call) is refused.
SAFE_FILTERS = frozenset({"upper", "lower", "title", "capitalize", "default", "trim"})
ALLOWED_FILTERS = SAFE_FILTERS | frozenset(FILTERS)
ALLOWED_TESTS = frozenset({"defined", "none", "undefined"})


@dataclass(frozen=True)
class Verdict:
    """What saving a template would do: refused with reasons, or accepted with what it will cost."""

    reasons: list[str] = field(default_factory=list)
    folded: str | None = None  # the template's words after look-alike folding, when that changed them
    best_parts: int | None = None
    worst_parts: int | None = None
    best_text: str | None = None
    worst_septets: int | None = None

    @property
    def ok(self) -> bool:
        return not self.reasons


def validate(
    kind_name: str,
    text: str,
    *,
    max_parts: int,
    identity: Mapping[str, str] | None = None,
    footer: str = DEFAULT_FOOTER,
) -> Verdict:
    """Check a template before it is saved; every refusal says what to change. A promotional kind is
    measured with the opt-out footer it will carry."""
    kind = KINDS.get(kind_name)
    if kind is None:
        return Verdict([f"unknown kind {kind_name!r}: choose one of {', '.join(KINDS)}"])
    if not text.strip():
        return Verdict(["the template is empty"])
    try:
        tree = environment().parse(text)
    except TemplateSyntaxError as exc:
        return Verdict([f"line {exc.lineno}: {exc.message} (check the {{{{ }}}} and {{% %}} pairs)"])
    reasons = _vocabulary(kind, tree)
    fixed = "".join(node.data for node in tree.find_all(nodes.TemplateData))
    folded = None
    try:
        folded_text = fold(fixed)
        folded = folded_text if folded_text != fixed else None
    except TextRejected as exc:
        reasons.append(f"its own words have characters an SMS cannot carry ({exc.reason.split(': ', 1)[-1]})")
    if reasons:
        return Verdict(reasons, folded)
    return _measure(kind, text, folded, max_parts, identity=identity or {}, footer=footer)


def _vocabulary(kind: Kind, tree: nodes.Template) -> list[str]:
    """What the template uses that its kind or Tuma's sandbox does not offer, each with what is."""
    used = meta.find_undeclared_variables(tree)
    reasons = _unoffered(kind, tree, used) + _constructs(tree)
    missing = [v for v in kind.must_show if v not in used]
    if missing:
        reasons.append(f"a {kind.name} must show {' and '.join(missing)}")
    return reasons


def _unoffered(kind: Kind, tree: nodes.Template, used: set[str]) -> list[str]:
    reasons = []
    unknown = sorted(used - set(kind.variables))
    if unknown:
        offered = ", ".join(kind.variables)
        reasons.append(f"uses {', '.join(unknown)}, which a {kind.name} does not have; it may use {offered}")
    filters = sorted({f.name for f in tree.find_all(nodes.Filter)} - ALLOWED_FILTERS)
    if filters:
        offered = ", ".join(sorted(ALLOWED_FILTERS))
        reasons.append(f"uses the filter {', '.join(filters)}; the filters offered are {offered}")
    tests = sorted({t.name for t in tree.find_all(nodes.Test)} - ALLOWED_TESTS)
    if tests:
        offered = ", ".join(sorted(ALLOWED_TESTS))
        reasons.append(f"uses the test {', '.join(tests)}; the tests offered are {offered}")
    return reasons


def _constructs(tree: nodes.Template) -> list[str]:
    reasons = []
    if any(True for _ in tree.find_all(nodes.Call)):
        reasons.append("calls a function, which templates may not do")
    if any(True for _ in tree.find_all((nodes.Getattr, nodes.Getitem))):
        reasons.append("reads an attribute or item of a value (x.y or x[...]), which templates may not do")
    return reasons


def _measure(
    kind: Kind, text: str, folded: str | None, max_parts: int, *, identity: Mapping[str, str], footer: str
) -> Verdict:
    best_data = kind.data(kind.best, identity)
    worst_data = kind.data(kind.worst)

    def sent(rendered: str) -> str:
        return with_footer(rendered, footer) if kind.category is MessageCategory.PROMOTIONAL else rendered

    try:
        best = prepare(sent(render_source(text, best_data, kind.name)), max_parts=10)
        worst_raw = fold(sent(render_source(text, worst_data, kind.name)))
    except (TemplateError, TextRejected) as exc:
        return Verdict([f"it cannot be filled in: {exc.reason}"], folded)
    reasons = []
    for variable in kind.must_show:
        if str(best_data[variable]) not in best.text:
            reasons.append(f"a {kind.name} must show {variable}: it is used but not in the text")
    worst_parts = count_parts(worst_raw)
    if best.parts > max_parts or worst_parts > max_parts:
        reasons.append(
            f"with the longest names and amounts it needs {worst_parts} SMS parts; the limit is "
            f"{max_parts} (SMS_MAX_PARTS): shorten the fixed words"
        )
    return Verdict(reasons, folded, best.parts, worst_parts, best.text, count_septets(worst_raw))


# -- routing ------------------------------------------------------------------------------------


# -- what the sender renders with -------------------------------------------------------------


def check_routing(routing: Routing, catalog: Catalog) -> list[str]:
    """Refusals for rules that point at templates that are not receipts (or do not exist)."""
    reasons = []
    for position, rule in enumerate(routing.rules, 1):
        kind = catalog.kind(rule.template)
        if kind is None:
            reasons.append(f"rule {position}: there is no template {rule.template!r}; save it first")
        elif kind != "receipt":
            reasons.append(f"rule {position}: {rule.template!r} is a {kind} template, not a receipt")
    return reasons


# -- editing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    text: str  # the SMS as it would go, GSM7
    parts: int
    septets: int
    verdict: Verdict


class TemplateEditor:
    """Saving and previewing templates and routing, always through `validate`: what `tuma templates`
    and the operator's console both use."""

    def __init__(
        self,
        store: TemplateStore,
        *,
        max_parts: int,
        identity: Mapping[str, str] | None = None,
        footer: str = DEFAULT_FOOTER,
    ) -> None:
        self._store = store
        self._max_parts = max_parts
        self._identity = {k: v for k, v in (identity or {}).items() if v}
        self._footer = footer

    def catalog(self) -> Catalog:
        return replace(self._store.catalog(), identity=self._identity, footer=self._footer)

    def current(self, name: str, language: str) -> StoredTemplate | None:
        for template in self.catalog().all():
            if (template.name, template.language) == (name, language):
                return template
        return None

    def check(
        self, name: str, language: str, text: str, kind: str | None = None
    ) -> tuple[str | None, Verdict]:
        if not TEMPLATE_NAME.match(name):
            return None, Verdict(
                ["a template name is lower-case letters, digits and _, starting with a letter"]
            )
        if not LANGUAGE.match(language):
            return None, Verdict(["a language is two letters, such as en or sw"])
        kind = kind or self.catalog().kind(name)
        if kind is None:
            return None, Verdict([f"{name!r} is a new template: say which kind it is ({', '.join(KINDS)})"])
        return kind, validate(
            kind, text, max_parts=self._max_parts, identity=self._identity, footer=self._footer
        )

    def put(
        self, name: str, language: str, text: str, kind: str | None = None, note: str | None = None
    ) -> tuple[Verdict, StoredTemplate | None]:
        """Saved as a new current version when it passes; nothing changes when it does not."""
        kind, verdict = self.check(name, language, text, kind)
        known = self.catalog().kind(name)
        if kind is not None and known is not None and known != kind:
            verdict = Verdict(
                [*verdict.reasons, f"{name!r} is a {known} template; it cannot become a {kind}"]
            )
        if not verdict.ok or kind is None:
            return verdict, None
        return verdict, self._store.save(StoredTemplate(name, language, kind, text, note=note))

    def preview(
        self, name: str, language: str, data: Mapping[str, Any] | None = None, text: str | None = None
    ) -> Preview:
        """The SMS a template makes with this data (its kind's example when none), and its verdict."""
        current = self.current(name, language) or self.current(name, FALLBACK_LANGUAGE)
        if text is None and current is None:
            raise TemplateError(f"there is no template {name!r}")
        source = text if text is not None else current.text  # type: ignore[union-attr]
        kind_name, verdict = self.check(name, language, source, current.kind if current else None)
        sms = prepare(self._filled(name, source, KINDS.get(kind_name or ""), data), max_parts=10)
        return Preview(sms.text, sms.parts, sms.septets, verdict)

    def _filled(self, name: str, source: str, kind: Kind | None, data: Mapping[str, Any] | None) -> str:
        """The template rendered with `data` over its kind's example; a promotion with its footer."""
        if kind is None:
            return render_source(source, dict(data or {}), name)
        rendered = render_source(source, kind.data({**kind.best, **(data or {})}, self._identity), name)
        return (
            with_footer(rendered, self._footer) if kind.category is MessageCategory.PROMOTIONAL else rendered
        )

    def history(self, name: str, language: str) -> list[StoredTemplate]:
        return self._store.history(name, language)

    def use(self, name: str, language: str, version: int) -> StoredTemplate:
        return self._store.use(name, language, version)

    def routing_history(self) -> list[Routing]:
        return self._store.routing_history()

    def use_routing(self, version: int) -> Routing:
        return self._store.use_routing(version)

    def put_routing(self, raw: Any) -> tuple[list[str], Routing | None]:
        try:
            routing = parse_routing(raw)
        except ValueError as exc:
            return [str(exc)], None
        reasons = check_routing(routing, self.catalog())
        if reasons:
            return reasons, None
        return [], self._store.save_routing(routing)

    def seed(self) -> list[StoredTemplate]:
        """Store the packaged templates a store does not have yet (a fresh stack, `tuma local up`)."""
        stored = self._store.catalog().templates
        saved = []
        for (name, language), text in sorted(packaged().items()):
            if (name, language) not in stored:
                saved.append(
                    self._store.save(
                        StoredTemplate(name, language, kind_of(name) or name, text, note="packaged")
                    )
                )
        return saved
