"""Errors that cross layers: adapters raise them, services and handlers decide what they mean."""

from __future__ import annotations


class ConfigurationError(RuntimeError):
    """The deployment is misconfigured: nothing will work until an operator fixes it."""


class Unavailable(ConnectionError):
    """A store or queue could not do what was asked now (AWS refused, throttled or was not reached):
    nothing was decided, and trying again later may work. Adapters raise it in place of the AWS
    library's own errors (tuma.adapters.aws_errors), so that nothing past them knows botocore."""


class InvalidInput(ValueError):
    """What a caller sent cannot be acted on, and the caller can mend it: `field` names what to fix
    (a webhook answers 422 naming it; a command prints it)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
