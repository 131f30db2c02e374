"""Field types and error summaries shared by every model that reads outside input."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints, ValidationError

# Keys and references end up in ledger keys, log lines and SMS texts: no control characters.
NO_CONTROL_CHARS = r"^[^\x00-\x1f\x7f]+$"
# Template names and languages, as messages name them (here, not beside the renderer: reading a
# message must not import jinja2).
TEMPLATE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
LANGUAGE = re.compile(r"^[a-z]{2}$")


def whole_text(value: str) -> str:
    """`value` with each unpaired surrogate replaced by U+FFFD. JSON may carry `\\ud83d` alone (half
    of a pair): valid JSON, not Unicode, and fatal wherever the text is later encoded (the ledger,
    the outbox message). Cleaned at the edge; U+FFFD then becomes a space in an SMS like any
    character GSM7 lacks."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def whole(data: Any) -> Any:
    """Every string in parsed JSON made whole (`whole_text`), keys included."""
    if isinstance(data, str):
        return whole_text(data)
    if isinstance(data, dict):
        return {whole(key): whole(item) for key, item in data.items()}
    if isinstance(data, list):
        return [whole(item) for item in data]
    return data


def as_text(value: Any) -> Any:
    """Producers send ids and numbers as JSON numbers as often as strings: keep them as text."""
    if isinstance(value, str):
        return whole_text(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | Decimal):
        return str(value)
    return value


def required_text(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("required")
    return as_text(value)


class Scalars:
    """In the OpenAPI document, text a producer may also send as a JSON number or boolean (as_text
    reads those as their text): the string's own constraints, or one of `types`."""

    def __init__(self, *types: str) -> None:
        self.types = types

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        return {"anyOf": [handler(core_schema), *({"type": kind} for kind in self.types)]}


AsText = Annotated[str, BeforeValidator(as_text), Scalars("number", "boolean")]
# An id: a number sent for it must be whole (its text must fit the id's pattern).
IdText = Annotated[str, BeforeValidator(as_text), Scalars("integer", "boolean")]
OptionalText = Annotated[str | None, BeforeValidator(lambda v: None if v in (None, "") else as_text(v))]


# A business event's reference (an M-Pesa receipt number, an invoice number): trimmed and upper-cased,
# so that `nlj7rt61sv ` from one source and `NLJ7RT61SV` from another key the same payment. The
# validator after the constraints runs first (and keeps the pattern in the OpenAPI document).
def reference_text(value: Any) -> Any:
    """A reference is text, or a whole number read as its digits; `true` or `2.5` is no reference."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError("a reference is text or a whole number")
    return required_text(value)


Reference = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_upper=True, min_length=1, max_length=64, pattern=NO_CONTROL_CHARS
    ),
    BeforeValidator(reference_text),
    Scalars("integer"),
]

# Free text kept as received, up to a sane size: an over-long name is shortened for the SMS later,
# never a reason to refuse a payment.
FREE_TEXT_CAP = 200


def capped(value: Any) -> Any:
    value = as_text(value)
    if isinstance(value, str):
        value = value.strip()
        return value[:FREE_TEXT_CAP] or None
    return value


FreeText = Annotated[str | None, BeforeValidator(capped), Scalars("number", "boolean")]


def summarize(exc: ValidationError, limit: int = 5, names: dict[str, str] | None = None) -> str:
    """Field names and messages only: pydantic's full text would repeat the (personal) input."""
    names = names or {}
    problems = []
    for error in exc.errors()[:limit]:
        field = ".".join(str(part) for part in error["loc"]) or "body"
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{names.get(field, field)}: {message}")
    return "; ".join(problems)
