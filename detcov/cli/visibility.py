"""``detcov visibility``: visibility scores (0-4) per technique × system group, from the inventory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from detcov.cli.common import attack_options, console, err_console, load_kb, print_issues
from detcov.errors import DetcovError

if TYPE_CHECKING:
    from detcov.attack import AttackKB
    from detcov.datasources.visibility import VisibilityScore


@click.command(epilog="""Examples:

\b
  detcov visibility --inventory inventory.yaml                       # per tactic × system group, visibility.csv
  detcov visibility --inventory inventory.yaml --explain T1059.001   # why this technique scores what it does
  detcov visibility --inventory inventory.yaml --platform Linux -o linux.parquet
""")
@attack_options
@click.option("--inventory", "inventory_path", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The inventory file (see `detcov inventory init`).")
@click.option("--platform", help="Only system groups on this ATT&CK platform, scored on it alone.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("visibility.csv"), show_default=True,
              help="Per-technique scores with explanations: .csv or .parquet.")
@click.option("--explain", "explain", metavar="TECHNIQUE",
              help="Print the explanation of one technique's scores.")
@click.option("--warnings/--no-warnings", default=False, help="Show the inventory's warnings too.")
def visibility(attack_path: Path | None, attack_version: str | None, inventory_path: Path,
               platform: str | None, output: Path, explain: str | None, warnings: bool) -> None:
    """Visibility per tactic and system group (DeTT&CT 0-4 scale, weighted by data quality)."""
    from detcov.datasources.catalog import load_catalog
    from detcov.datasources.inventory import load_inventory_with_issues
    from detcov.datasources.report import write_scores
    from detcov.datasources.visibility import score_visibility

    kb, _ = load_kb(attack_path, attack_version)
    cat = load_catalog()
    inv, issues, _doc = load_inventory_with_issues(inventory_path, kb, cat)
    if warnings:
        print_issues(issues)
    elif issues:
        err_console.print(f"{len(issues)} inventory warning(s): "
                          f"see `detcov inventory check {inventory_path}`")
    if platform is not None and platform not in kb.platforms:
        raise DetcovError(f"unknown platform {platform!r}", hint=f"use one of: {', '.join(kb.platforms)}")
    scores = score_visibility(kb, inv, cat, platform)
    if explain:
        _explain(kb, scores, explain)
        return
    _print_summary(kb, scores)
    written = write_scores(scores, kb, output)
    console.print(f"wrote {written}: {len(scores)} technique × system-group scores with explanations")


def _print_summary(kb: AttackKB, scores: list[VisibilityScore]) -> None:
    from detcov.datasources.report import summarize_by_tactic

    rows = summarize_by_tactic(scores, kb)
    groups = list(dict.fromkeys(r.system_group for r in rows))
    table = Table(title=f"Visibility by tactic — ATT&CK {kb.version} (visible = score ≥ 1; mean 0-4)")
    table.add_column("tactic")
    for g in groups:
        table.add_column(escape(g), justify="right")
    by_key = {(r.tactic, r.system_group): r for r in rows}
    for tactic in dict.fromkeys(r.tactic for r in rows):
        cells = []
        for g in groups:
            r = by_key.get((tactic, g))
            cells.append(f"{r.visible}/{r.techniques} · {r.mean_score:.1f}" if r else "")
        table.add_row(tactic, *cells)
    console.print(table)


def _explain(kb: AttackKB, scores: list[VisibilityScore], raw: str) -> None:
    res = kb.resolve(raw)
    tid = res.current or res.id
    if not res.usable or tid is None:
        raise DetcovError(f"{raw!r}: {res.note or 'unknown technique'} (ATT&CK {kb.version})")
    t = kb.technique(tid)
    console.print(f"[bold]{tid}[/] {escape(t.name if t else '')}")
    found = [s for s in scores if s.technique == tid]
    if not found:
        console.print("no system group runs on this technique's platforms")
    for s in found:
        console.print(f"• {escape(s.system_group)}: {escape(s.explain())}", soft_wrap=True)


COMMANDS = (visibility,)
