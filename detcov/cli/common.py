"""Shared CLI plumbing: console, ATT&CK options, error display. Commands stay thin; logic lives in the packages."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console, ConsoleDimensions

from detcov.errors import Issue, Severity

if TYPE_CHECKING:
    from detcov.attack import AttackKB
    from detcov.attack.sources import LoadStats

F = TypeVar("F", bound=Callable[..., Any])

OFF_TERMINAL_WIDTH = 140


class _Console(Console):
    """Rich falls back to 80 columns when output is not a terminal; pipes, CI logs and files read better wider.
    ``COLUMNS`` still wins, read at print time as rich does."""

    def _wide_size(self) -> ConsoleDimensions:
        size: ConsoleDimensions = Console.size.fget(self)  # type: ignore[attr-defined]
        columns = os.environ.get("COLUMNS", "")
        if columns.isdigit():  # rich skips COLUMNS on a "dumb" terminal (TERM=dumb, some CI runners)
            return ConsoleDimensions(int(columns), size.height)
        if not self.is_terminal:
            return ConsoleDimensions(max(size.width, OFF_TERMINAL_WIDTH), size.height)
        return size

    size = property(_wide_size, Console.size.fset)  # type: ignore[attr-defined]


console = _Console(highlight=False)
err_console = _Console(stderr=True, highlight=False)


def attack_options(func: F) -> F:
    """``--attack PATH`` and ``--attack-version X`` on any command that needs ATT&CK."""
    func = click.option("--attack-version", "attack_version", metavar="VERSION",
                        help="ATT&CK version to use, e.g. 17.1 (from DETCOV_ATTACK_DATA, the download cache or the "
                             "bundle shipped with detcov).")(func)
    return click.option("--attack", "attack_path", type=click.Path(path_type=Path, dir_okay=False),
                        help="ATT&CK Enterprise STIX bundle (.json, .json.gz or .json.xz); default: "
                             "$DETCOV_ATTACK_DATA, the download cache, then the shipped 18.1.")(func)


def load_kb(attack_path: Path | None, attack_version: str | None, *, use_cache: bool = True,
            any_domain: bool = False) -> tuple[AttackKB, LoadStats]:
    """The knowledge base for a command; ``any_domain`` lets Mobile and ICS bundles in (else Enterprise only)."""
    from detcov.attack import AttackKB
    from detcov.attack.sources import load_attack_data

    data, stats = load_attack_data(attack_path, attack_version, use_cache=use_cache,
                                   domain=None if any_domain else "enterprise-attack")
    return AttackKB(data), stats


def scan_inputs(config_path: Path) -> list[Path]:
    """Every file and rule folder a scan config reads (outputs may never be written over them); a config that
    does not load yet guards only itself (its errors are reported when the scan reads it)."""
    from detcov.config import input_names, load_scan_config, resolve
    from detcov.errors import DetcovError

    try:
        config, base = load_scan_config(config_path)
    except DetcovError:
        return [config_path]
    return [config_path, *(resolve(base, n) for n in input_names(config))]


_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def print_issues(issues: Iterable[Issue]) -> None:
    """One line per issue on stderr: ``error: file:line:col: message — fix``."""
    for issue in issues:
        err_console.print(f"[{_STYLE[issue.severity]}]{issue.severity.value}:[/] {issue}", markup=True,
                          soft_wrap=True, highlight=False, emoji=False)
