"""The part of RFC 8941 (Structured Field Values for HTTP) that RFC 9421's headers use.

`Signature-Input` is a dictionary of inner lists of strings with parameters, `Signature` and
RFC 9530's `Content-Digest` dictionaries of byte sequences. Parsing is strict, as RFC 8941 asks: a
field that does not parse is refused whole. Serialising is for `@signature-params`, whose value in
the signature base is the canonical serialisation of what was parsed (RFC 9421 §2.3).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

__all__ = ["FieldError", "InnerList", "Item", "Token", "parse_dictionary", "serialize_inner_list"]

_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_INTEGER = re.compile(r"-?[0-9]{1,15}")
_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")


class FieldError(ValueError):
    """A structured field that does not parse."""


@dataclass(frozen=True)
class Token:
    value: str


Bare = int | str | bytes | bool | Token


@dataclass(frozen=True)
class Item:
    value: Bare
    params: dict[str, Bare] = field(default_factory=dict)


@dataclass(frozen=True)
class InnerList:
    items: tuple[Item, ...]
    params: dict[str, Bare] = field(default_factory=dict)


class _Reader:
    def __init__(self, text: str) -> None:
        if not text.isascii():
            raise FieldError("not ASCII")
        self.text = text
        self.at = 0

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def skip(self, spaces: str) -> None:
        while self.peek() and self.peek() in spaces:
            self.at += 1

    def match(self, pattern: re.Pattern[str]) -> re.Match[str]:
        found = pattern.match(self.text, self.at)
        if not found:
            raise FieldError(f"unexpected {self.text[self.at : self.at + 10]!r}")
        self.at = found.end()
        return found

    def string(self) -> str:
        self.at += 1  # the opening quote
        out: list[str] = []
        while True:
            char = self.peek()
            self.at += 1
            if char == "":
                raise FieldError("unterminated string")
            if char == '"':
                return "".join(out)
            if char == "\\":
                escaped = self.peek()
                if escaped not in ('"', "\\"):
                    raise FieldError("bad escape in string")
                self.at += 1
                char = escaped
            elif not (" " <= char <= "~"):
                raise FieldError("control character in string")
            out.append(char)

    def bare(self) -> Bare:
        char = self.peek()
        if char == '"':
            return self.string()
        if char == ":":
            try:
                return base64.b64decode(self.match(_BYTES).group(1), validate=True)
            except binascii.Error:
                raise FieldError("bad byte sequence") from None
        if char == "?":
            self.at += 1
            flag = self.peek()
            if flag not in ("0", "1"):
                raise FieldError("bad boolean")
            self.at += 1
            return flag == "1"
        if char == "-" or char.isdigit():
            if re.match(r"-?[0-9]+\.", self.text[self.at :]):
                raise FieldError("decimals are not used here")
            return int(self.match(_INTEGER).group(0))
        return Token(self.match(_TOKEN).group(0))

    def params(self) -> dict[str, Bare]:
        found: dict[str, Bare] = {}
        while self.peek() == ";":
            self.at += 1
            self.skip(" ")
            key = self.match(_KEY).group(0)
            value: Bare = True
            if self.peek() == "=":
                self.at += 1
                value = self.bare()
            found[key] = value
        return found

    def member(self) -> Item | InnerList:
        if self.peek() != "(":
            value = self.bare()
            return Item(value, self.params())
        self.at += 1
        items: list[Item] = []
        while True:
            self.skip(" ")
            if self.peek() == ")":
                self.at += 1
                return InnerList(tuple(items), self.params())
            value = self.bare()
            items.append(Item(value, self.params()))
            if self.peek() not in (" ", ")"):
                raise FieldError("inner list items are separated by spaces")


def parse_dictionary(text: str) -> dict[str, Item | InnerList]:
    """An RFC 8941 dictionary; the last of a repeated key wins, as the RFC says."""
    reader = _Reader(text)
    found: dict[str, Item | InnerList] = {}
    reader.skip(" ")
    while reader.peek():
        key = reader.match(_KEY).group(0)
        if reader.peek() == "=":
            reader.at += 1
            found[key] = reader.member()
        else:
            found[key] = Item(True, reader.params())
        reader.skip(" \t")
        if not reader.peek():
            break
        if reader.peek() != ",":
            raise FieldError("dictionary members are separated by commas")
        reader.at += 1
        reader.skip(" \t")
        if not reader.peek():
            raise FieldError("trailing comma")
    return found


def _serialize_bare(value: Bare) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Token):
        return value.value
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode() + ":"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _serialize_params(params: dict[str, Bare]) -> str:
    return "".join(f";{k}" if v is True else f";{k}={_serialize_bare(v)}" for k, v in params.items())


def serialize_inner_list(value: InnerList) -> str:
    inner = " ".join(_serialize_bare(i.value) + _serialize_params(i.params) for i in value.items)
    return f"({inner}){_serialize_params(value.params)}"
