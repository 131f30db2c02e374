"""Errors that cross layers: adapters raise them, services and handlers decide what they mean."""

from __future__ import annotations


class ConfigurationError(RuntimeError):
    """The deployment is misconfigured: nothing will work until an operator fixes it."""
