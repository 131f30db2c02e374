"""AWS's own errors stop at the adapters: each adapter's public methods raise `tuma.errors.Unavailable`
in their place, naming the call and AWS's error code, never the message (it can carry keys or
values). Errors an adapter expects (a condition that said no) it handles itself, before this."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from tuma.errors import Unavailable

Adapter = TypeVar("Adapter", bound=type)


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or type(exc).__name__)
    return type(exc).__name__


def _translating(method: Callable[..., Any], owner: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable(f"{owner}.{method.__name__}: {_code(exc)}") from exc

    return call


def translates_aws_errors(cls: Adapter) -> Adapter:
    """Every public method the class itself defines raises Unavailable for AWS's errors."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and callable(member) and not isinstance(member, type):
            setattr(cls, name, _translating(member, cls.__name__))
    return cls
