"""Package namespaces whose names are imported on first use (PEP 562), so a light submodule (a model, a
constant) can be read without importing every sibling. ``detcov --help`` depends on it."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, Sequence[str]]) -> tuple[Callable[[str], Any], list[str]]:
    """``(__getattr__, __all__)`` for ``package``: ``homes`` maps each submodule to the names it provides.

    A name that is also a submodule's name cannot be lazy (importing the submodule sets the package attribute to
    the module): import it eagerly instead. ``tests/test_cli_startup.py`` checks every lazy package."""
    where = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__, sorted(where)
