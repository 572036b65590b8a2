"""How the outputs that travel (layers, heatmaps, tables, the workbook, summary.json and so the history and the
board report) name the user's input files: relative to the scan config's folder, or, for an input outside it,
from the input itself (a file by its name, a rule folder by its name and the path inside it). No absolute local
path (user names, mount points, a share's layout) reaches a board, an examiner or a colleague's Navigator.

Explanations are built where the scores are (with the path the loader read, which the terminal keeps); the outputs
that leave the machine pass through :class:`PathNamer`, the one place that renames them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detcov.config import ScanConfig, input_names, resolve

if TYPE_CHECKING:
    import pandas as pd


def _prefix(path: Path) -> str | None:
    """``path`` + separator, if it is deep enough to replace safely (never ``/`` or a drive)."""
    return str(path) + os.sep if len(path.parts) > 1 else None


@dataclass(frozen=True)
class PathNamer:
    """Prefix → replacement, longest prefix first."""

    replacements: tuple[tuple[str, str], ...]

    def text(self, value: str) -> str:
        for prefix, new in self.replacements:
            if prefix in value:
                value = value.replace(prefix, new)
        return value

    def value(self, value: Any) -> Any:
        """Strings renamed; lists, tuples and dicts (e.g. a JSON document) renamed all through; others as they are."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(v) for v in value)
        return value

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy with every text column renamed (numbers untouched; string columns vectorised: a 100,000-rule
        table is 1.4 million cells)."""
        changes: dict[str, pd.Series[Any]] = {}
        anywhere = "|".join(_literal(p) for p, _ in self.replacements)  # one pass per column finds columns to rename
        for col in frame.columns:
            column = frame[col]
            if str(column.dtype).startswith("str"):
                if not anywhere or not column.str.contains(anywhere, regex=True).any():
                    continue
                for prefix, new in self.replacements:
                    if column.str.contains(prefix, regex=False).any():  # a new column only where a path is
                        column = changes[col] = column.str.replace(prefix, new, regex=False)
            elif column.dtype == object:
                changes[col] = column.map(self.value)
        return frame.assign(**changes)


def _literal(text: str) -> str:
    """``text`` as a regular expression that matches it literally, in Python's and in Arrow's (RE2) syntax."""
    return re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", text)


def path_namer(base: Path, inputs: Iterable[str] = ()) -> PathNamer:
    """The renaming for a scan whose config is in ``base`` and names ``inputs`` (as the config writes them).

    An input outside ``base`` loses its parent folder (written relative, ``base/../x/y``, or absolute, ``/x/y``;
    resolved too); then what is under ``base`` becomes relative to it."""
    pairs: dict[str, str] = {}
    roots = (base, base.resolve())
    for name in inputs:
        path = resolve(base, name)
        normal, real = Path(os.path.normpath(path)), path.resolve()
        if any(normal.is_relative_to(r) or real.is_relative_to(r) for r in roots):
            continue  # under the config folder: made relative below
        for form in (path, normal, real):
            if p := _prefix(form.parent):
                pairs[p] = ""
    for root in roots:
        if p := _prefix(root):
            pairs[p] = ""
    return PathNamer(tuple(sorted(pairs.items(), key=lambda kv: -len(kv[0]))))


def scan_namer(config: ScanConfig, base: Path) -> PathNamer:
    """:func:`path_namer` for a scan config's inputs."""
    return path_namer(base, input_names(config))
