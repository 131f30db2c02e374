"""Load a function's `app.py` as Lambda would: its own module, after its environment is in place."""

from __future__ import annotations

import gc
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]


def load_module(directory: Path, module: str = "app") -> ModuleType:
    """Import `directory/module.py` under a name of its own: every function's file is called app.py."""
    path = directory / f"{module}.py"
    name = f"tuma_function_{directory.name}_{module}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    try:
        spec.loader.exec_module(loaded)
    finally:
        # A function turns the collector off for its init and back on at the end (freezing what
        # init made). In this long-lived process neither must outlast the load: an init that
        # failed half-way would leave it off, and frozen objects are never collected.
        gc.enable()
        gc.unfreeze()
    return loaded


def load_handler(directory: Path, handler: str = "app.lambda_handler") -> Handler:
    module_name, function_name = handler.rsplit(".", 1)
    function: Handler = getattr(load_module(directory, module_name), function_name)
    return function
