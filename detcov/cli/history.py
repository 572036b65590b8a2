"""``detcov history record|list|show|diff|export``: the quarter-by-quarter record of coverage scans."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.markup import escape
from rich.table import Table

from detcov.cli.common import attack_options, console, load_kb
from detcov.defaults import DEFAULT_STORE

if TYPE_CHECKING:
    from detcov.attack import AttackKB
    from detcov.outputs.history import HistoryDiff

F = TypeVar("F", bound=Callable[..., Any])
MAX_IDS = 15


def store_option(func: F) -> F:
    """``--store PATH``: the history file ($DETCOV_HISTORY, else ./detcov-history.sqlite)."""
    return click.option("--store", type=click.Path(path_type=Path, dir_okay=False),
                        default=lambda: os.environ.get("DETCOV_HISTORY", DEFAULT_STORE), show_default=DEFAULT_STORE,
                        help="History store (SQLite); also $DETCOV_HISTORY.")(func)


def optional_kb(attack_path: Path | None, attack_version: str | None) -> AttackKB | None:
    """A knowledge base only when the user named one (commands that work without ATT&CK)."""
    if attack_path is None and attack_version is None:
        return None
    return load_kb(attack_path, attack_version)[0]


@click.group(epilog="""Examples:

\b
  detcov scan detcov.yaml --out out --record 2026Q3      # scan and record in one go
  detcov history record --scan-dir out --quarter 2026Q3  # or record an earlier scan folder
  detcov history list
  detcov history diff 2026Q2 2026Q3
  detcov history export --out trends.xlsx
""")
def history() -> None:
    """Recorded scans, one per quarter: trends and what changed."""


@history.command()
@click.option("--scan-dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="The --out folder of a `detcov scan` run.")
@click.option("--quarter", required=True, help="Quarter to record it as, e.g. 2026Q3.")
@click.option("--replace", is_flag=True, help="Overwrite the quarter if it is recorded already.")
@store_option
def record(scan_dir: Path, quarter: str, replace: bool, store: Path) -> None:
    """Record a scan folder as a quarter."""
    from detcov.outputs.history import open_history, parse_quarter, record_scan
    from detcov.outputs.history.store import KPI_NAMES

    quarter = parse_quarter(quarter)
    record_scan(store, quarter, scan_dir, replace=replace)
    kpis = open_history(store).load(quarter).summary.kpis
    figures = "  ".join(f"{k} {getattr(kpis, k).weighted_percent:.1f}%" for k in KPI_NAMES)
    console.print(f"recorded {quarter} in {escape(str(store))}: {figures} (threat-weighted)")


@history.command("list")
@store_option
def list_(store: Path) -> None:
    """Recorded quarters with their threat-weighted KPIs."""
    from detcov.outputs.history import open_history
    from detcov.outputs.history.export import trend_frame
    from detcov.outputs.history.store import KPI_NAMES

    table = Table(title=f"History {escape(str(store))}")
    for col in ("quarter", "ATT&CK", *KPI_NAMES, "in scope", "devices", "rules"):
        table.add_column(col, justify="left" if col in ("quarter", "ATT&CK") else "right")
    for _, row in trend_frame(open_history(store)).iterrows():
        table.add_row(row["quarter"], row["attack_version"],
                      *(f"{row[f'{k}_weighted_percent']:.1f}%" for k in KPI_NAMES),
                      str(row["techniques_in_scope"]), str(row["devices"]), str(row["rules"]))
    console.print(table)


@history.command()
@click.argument("quarter")
@store_option
def show(quarter: str, store: Path) -> None:
    """One quarter: KPIs, gaps, rule health, scope and fingerprints."""
    from detcov.outputs.history import open_history
    from detcov.outputs.history.store import KPI_NAMES

    snap = open_history(store).load(quarter)
    s = snap.summary
    table = Table(title=f"{snap.quarter} — {escape(s.scope.institution)}")
    for col in ("KPI", "covered", "total", "%", "weighted %"):
        table.add_column(col, justify="left" if col == "KPI" else "right")
    for k in KPI_NAMES:
        r = getattr(s.kpis, k)
        table.add_row(k, str(r.covered), str(r.total), f"{r.percent:.1f}", f"{r.weighted_percent:.1f}")
    console.print(table)
    lines = [("gaps", ", ".join(f"{k} {v}" for k, v in sorted(s.gaps.items()))),
             ("rule health", ", ".join(f"{k} {v}" for k, v in sorted(s.rule_health.items()))),
             ("ATT&CK", f"{s.attack.version} ({s.attack.detection_model}, sha256 {s.attack.sha256[:12]})"),
             ("profiles", ", ".join(s.scope.profiles)), ("groups", ", ".join(s.scope.groups)),
             ("devices / rules", f"{s.scope.devices} / {s.scope.rules} in {s.scope.rule_files} files"),
             ("inventory sha256", s.scope.inventory_sha256), ("rules sha256", s.scope.rules_sha256),
             ("recorded", f"{snap.recorded_at} from {snap.source}")]
    for name, value in lines:
        console.print(f"[bold]{name}:[/] {escape(value)}")


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:MAX_IDS])
    return shown + (f" … (+{len(ids) - MAX_IDS})" if len(ids) > MAX_IDS else "")


def print_diff(diff: HistoryDiff) -> None:
    console.print(f"[bold]{diff.old} → {diff.new}[/]")
    if diff.versions_differ:
        how = (f"ids compared through the ATT&CK {diff.normalised_with} id normaliser "
               f"({len(diff.renamed)} revoked ids mapped)" if diff.normalised_with
               else "ids compared as written (pass --attack with the newer bundle to map revoked ids)")
        console.print(f"[yellow]ATT&CK versions differ: {diff.old_attack} → {diff.new_attack}; {how}[/]")
    console.print("KPI change (threat-weighted, points): "
                  + "  ".join(f"{k} {v:+.1f}" for k, v in diff.kpi_change.items()))
    for view in diff.views:
        console.print(f"{view.view}: +{len(view.gained)} {_ids(view.gained)}  -{len(view.lost)} {_ids(view.lost)}")
    console.print(f"scope: +{len(diff.scope_added)} -{len(diff.scope_removed)}")
    for label, rules in (("rules added", diff.rules_added), ("rules removed", diff.rules_removed),
                         ("rules newly broken", diff.rules_broken), ("rules fixed", diff.rules_fixed)):
        console.print(f"{label}: {len(rules)} " + escape(_ids([f"{r.rule_id} {r.title}" for r in rules])))
    for label, devices in (("devices added", diff.devices_added), ("devices removed", diff.devices_removed)):
        console.print(f"{label}: {len(devices)} " + escape(_ids([d.device for d in devices])))


@history.command()
@click.argument("old")
@click.argument("new")
@attack_options
@store_option
def diff(old: str, new: str, attack_path: Path | None, attack_version: str | None, store: Path) -> None:
    """What changed from quarter OLD to quarter NEW."""
    from detcov.outputs.history import open_history

    print_diff(open_history(store).diff(old, new, kb=optional_kb(attack_path, attack_version)))


@history.command()
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="A folder (CSV + Parquet tables) or a .xlsx workbook.")
@store_option
def export(out: Path, store: Path) -> None:
    """All quarters as tables: KPI trends and per-technique scores."""
    from detcov.outputs.excel import write_tables, write_workbook
    from detcov.outputs.history import open_history
    from detcov.outputs.history.export import techniques_frame, trend_frame

    hist = open_history(store)
    sheets = {"trends": trend_frame(hist), "techniques": techniques_frame(hist)}
    written = [write_workbook(out, sheets)] if out.suffix.lower() == ".xlsx" else write_tables(out, sheets)
    for path in written:
        console.print(escape(str(path)))


COMMANDS = (history,)
