"""Message templates: jinja2's sandbox, strict about missing data, never evaluating the data itself.

Values are inserted as text: a payer called `{{7*7}}` or `{0.__class__}` sees exactly that in the
SMS, because nothing rendered here is ever rendered or formatted a second time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from tuma.formatting.clock import format_eat, parse_time
from tuma.formatting.gsm7 import clean, shorten
from tuma.formatting.money import format_money, parse_amount
from tuma.models.kinds import TemplateError, data_limit
from tuma.models.validation import LANGUAGE, TEMPLATE_NAME

FALLBACK_LANGUAGE = "en"
_WHITESPACE = re.compile(r"\s+")


def money(value: object, currency: object = "KES") -> str:
    """`KES 1,500.00`: amounts arrive as strings, integers, floats or Decimals."""
    try:
        return format_money(parse_amount(value, positive=False), currency)
    except ValueError as exc:
        raise TemplateError(str(exc)) from None


def when(value: object) -> str:
    try:
        return format_eat(parse_time(value))
    except ValueError as exc:
        raise TemplateError(str(exc)) from None


def prepare_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """The data as the SMS may show it: every text cleaned to GSM7 and shortened to its field's limit.

    The template's own words stay strict (a character GSM7 cannot carry refuses the template), but
    a payer's name full of emoji must not cost the payer a receipt.
    """
    prepared: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str):
            text = clean(value)
            limit = data_limit(key)
            prepared[key] = text if limit is None else shorten(text, limit)
        else:
            prepared[key] = value
    return prepared


def _finalize(value: object) -> object:
    # Collapsing whitespace in the data keeps a name full of newlines from costing extra SMS parts.
    if value is None:
        return ""
    if isinstance(value, str):
        return _WHITESPACE.sub(" ", value).strip()
    return value


# The filters a template may use; the template editor refuses any other.
FILTERS: dict[str, Any] = {"money": money, "when": when}


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        finalize=_finalize,
        auto_reload=False,
    )
    env.filters.update(FILTERS)
    return env


@lru_cache(maxsize=256)
def compiled(source: str) -> Template:
    """Templates are compiled once per process and text: a saved version never changes."""
    return environment().from_string(source)


@lru_cache(maxsize=1)
def packaged() -> dict[tuple[str, str], str]:
    """The templates shipped with the package, by (name, language): the defaults of a fresh stack."""
    folder = resources.files("tuma") / "templates"
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".j2"):
            stem, language, _ = entry.name.rsplit(".", 2)
            found[(stem, language)] = entry.read_text(encoding="utf-8").rstrip("\n")
    return found


def available_templates() -> set[tuple[str, str]]:
    """(template, language) pairs shipped with the package."""
    return set(packaged())


def source_of(
    template: str, language: str, sources: Mapping[tuple[str, str], str] | None = None
) -> str | None:
    """The text of a template: the business's own (`sources`) before the packaged one, the language
    asked for before English."""
    for key in ((template, language), (template, FALLBACK_LANGUAGE)):
        if sources is not None and key in sources:
            return sources[key]
        if key in packaged():
            return packaged()[key]
    return None


def render(
    template: str,
    data: Mapping[str, Any],
    language: str = FALLBACK_LANGUAGE,
    sources: Mapping[tuple[str, str], str] | None = None,
) -> str:
    """Render a template in the given language (English when there is no translation)."""
    if not TEMPLATE_NAME.match(template):
        raise TemplateError(f"invalid template name {template[:40]!r}")
    if not LANGUAGE.match(language):
        raise TemplateError(f"invalid language {language[:10]!r}")
    source = source_of(template, language, sources)
    if source is None:
        raise TemplateError(f"unknown template {template!r}")
    return render_source(source, data, template)


def render_source(source: str, data: Mapping[str, Any], name: str = "template") -> str:
    try:
        text = compiled(source).render(prepare_data(data))
    except TemplateError:
        raise
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template {name!r} is broken: {exc.message}") from None
    except UndefinedError as exc:
        raise TemplateError(f"template {name!r} is missing data: {exc.message}") from None
    except SecurityError:
        raise TemplateError(f"template {name!r} attempted an unsafe operation") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise TemplateError(f"template {name!r} could not use the data: {exc}") from None
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())
