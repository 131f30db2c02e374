"""The settings of the `tuma send|balance|dlr` commands (src/tuma_cli/operator.py)."""

from __future__ import annotations

from tuma.runtime.settings import MessageSettings, ProviderSettings


class OperatorSettings(ProviderSettings, MessageSettings):
    """The `tuma send|balance|dlr` commands."""
