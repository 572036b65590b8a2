"""Shared CLI plumbing: console, ATT&CK options, error display. Commands stay thin; logic lives in the packages."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from detcov.attack import AttackKB
from detcov.attack.sources import LoadStats, load_attack_data
from detcov.errors import Issue, Severity

F = TypeVar("F", bound=Callable[..., Any])

def _width() -> int | None:
    """Rich uses 80 columns when output is not a terminal; pipes, CI logs and files read better wider."""
    if sys.stdout.isatty():
        return None
    return int(os.environ.get("COLUMNS", "140"))


console = Console(highlight=False, width=_width())
err_console = Console(stderr=True, highlight=False, width=_width())


def attack_options(func: F) -> F:
    """``--attack PATH`` and ``--attack-version X`` on any command that needs ATT&CK."""
    func = click.option("--attack-version", "attack_version", metavar="VERSION",
                        help="ATT&CK version to use, e.g. 18.1 (from DETCOV_ATTACK_DATA or the download cache).")(func)
    return click.option("--attack", "attack_path", type=click.Path(path_type=Path, dir_okay=False),
                        help="ATT&CK Enterprise STIX bundle (.json or .json.gz).")(func)


def load_kb(attack_path: Path | None, attack_version: str | None, *, use_cache: bool = True
            ) -> tuple[AttackKB, LoadStats]:
    data, stats = load_attack_data(attack_path, attack_version, use_cache=use_cache)
    return AttackKB(data), stats


_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def print_issues(issues: Iterable[Issue]) -> None:
    """One line per issue on stderr: ``error: file:line:col: message — fix``."""
    for issue in issues:
        err_console.print(f"[{_STYLE[issue.severity]}]{issue.severity.value}:[/] {issue}", markup=True,
                          soft_wrap=True, highlight=False, emoji=False)
