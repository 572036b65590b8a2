"""How a scan reads in a terminal: KPI table (coloured red/amber/green against the targets when there are any),
per-tactic table, top gaps with their whole next step (wrapped, never cut) and the rule-health line.

Below :data:`WIDE` columns (an 80-column terminal, ``COLUMNS=80``) the gaps are a numbered list, so the next step
gets the full width instead of a 25-character column.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from detcov.coverage.summary import GapItem, Summary

WIDE = 120
AMBER_POINTS = 10.0  # within this many points below the target: amber
KPI_ROWS = ("visibility", "detection", "blocking", "validated")


def rag(value: float, target: float | None) -> str | None:
    """``green`` at or above the target, ``yellow`` (amber) within :data:`AMBER_POINTS` below it, else ``red``;
    None without a target."""
    if target is None:
        return None
    if value >= target:
        return "green"
    return "yellow" if value >= target - AMBER_POINTS else "red"


def _target_cell(value: float, target: float | None) -> str:
    if target is None:
        return ""
    colour = rag(value, target)
    mark = "✓ met" if colour == "green" else f"✗ {value - target:+.1f}"
    return f"[{colour}]≥ {target:g} {mark}[/]"


def _group_pct(group: str | None, percent: float | None) -> str:
    return f"{escape(group)} {percent:.1f}" if group is not None and percent is not None else "—"


def kpi_table(summary: Summary, targets: Mapping[str, float], *, wide: bool = True) -> Table:
    """Headline KPIs (criticality-weighted share of cells at the threshold), threat-weighted, proven, the
    weakest critical group (and, when wide, the best one), and the target when there is one."""
    k = summary.kpis
    table = Table(title=f"{escape(summary.scope.institution)} — {summary.scope.techniques_in_scope} techniques in "
                        f"scope (ATT&CK {summary.attack.version}, profiles: "
                        f"{escape(', '.join(summary.scope.profiles))})",
                  caption="% of (technique, system group) cells at the threshold, weighted by group criticality; "
                          f"{summary.not_observable} not observable, {summary.not_applicable} not applicable "
                          "(counted apart)")
    columns = ["KPI", "≥", "cells", "%"] + (["threat-w. %"] if wide else []) + ["proven %", "weakest critical"]
    columns += (["best group"] if wide else []) + (["target"] if targets else [])
    for col in columns:
        table.add_column(col, justify="left" if col in ("KPI", "target") or "critical" in col or "group" in col
                         else "right", no_wrap=col in ("KPI", "cells", "%"))
    for name in KPI_ROWS:
        r = getattr(k, name)
        colour = rag(r.percent, targets.get(name))
        pct = f"[{colour}]{r.percent:.1f}[/]" if colour else f"{r.percent:.1f}"
        row = [name, "" if r.threshold is None else str(r.threshold), f"{r.covered}/{r.total}", pct]
        row += [f"{r.weighted_percent:.1f}"] if wide else []
        row += ["" if r.proven_percent is None else f"{r.proven_percent:.1f}",
                _group_pct(r.weakest_group, r.weakest_percent)]
        row += [_group_pct(r.best_group, r.best_percent)] if wide else []
        table.add_row(*row, *([_target_cell(r.percent, targets.get(name))] if targets else []))
    return table


def group_table(summary: Summary) -> Table:
    groups = Table(title="Per system group (% of its in-scope, observable techniques)")
    for col in ("system group", "crit.", "tech.", "vis %", "det %", "block %", "blind", "broken"):
        groups.add_column(col, justify="left" if col == "system group" else "right", no_wrap=col != "system group")
    for sg in summary.system_groups:
        groups.add_row(escape(sg.name), str(sg.criticality), str(sg.techniques), f"{sg.visibility:.0f}",
                       f"{sg.detection:.0f}", f"{sg.blocking:.0f}", str(sg.blind), str(sg.broken + sg.contradicted))
    return groups


def tactic_table(summary: Summary) -> Table:
    tactics = Table(title="Per tactic (% of cells)")
    for col in ("tactic", "techniques", "visibility", "detection", "blocking"):
        tactics.add_column(col, justify="left" if col == "tactic" else "right")
    for t in summary.per_tactic:
        tactics.add_row(t.name, str(t.techniques), f"{t.visibility:.0f}", f"{t.detection:.0f}", f"{t.blocking:.0f}")
    return tactics


GAPS_TITLE = "Top gaps (priority = threat weight × gap severity × criticality / 5, worst critical group)"


def gaps_table(gaps: list[GapItem]) -> Table:
    table = Table(title=GAPS_TITLE)
    table.add_column("technique", ratio=2)
    table.add_column("group", ratio=1)
    table.add_column("gap", no_wrap=True)
    table.add_column("priority", justify="right", no_wrap=True)
    table.add_column("next step", ratio=5, overflow="fold")
    for g in gaps:
        table.add_row(f"{g.technique} {escape(g.name)}", escape(g.group or ""), g.gap, f"{g.priority:.1f}",
                      escape(g.action))
    return table


def print_gaps_list(console: Console, gaps: list[GapItem]) -> None:
    """A numbered list; the heading and its next step wrap under the text, never back under the number."""
    console.print(f"[bold]{GAPS_TITLE}[/]")
    items = Table.grid(padding=(0, 1))
    items.add_column(justify="right", no_wrap=True)
    items.add_column(overflow="fold")
    for i, g in enumerate(gaps, 1):
        where = f" in {g.group}" if g.group else ""
        heading = Text.assemble((g.technique, "bold"), f" {g.name} — {g.gap}{where}, priority {g.priority:.1f}")
        items.add_row(f"{i}.", heading)
        items.add_row("", Text(f"next: {g.action}", overflow="fold"))
    console.print(items)


def print_summary(console: Console, summary: Summary, targets: Mapping[str, float] | None = None) -> None:
    console.print(kpi_table(summary, targets or {}, wide=console.width >= WIDE))
    if summary.system_groups:
        console.print(group_table(summary))
    console.print(tactic_table(summary))
    if console.width >= WIDE:
        console.print(gaps_table(summary.top_gaps))
    else:
        print_gaps_list(console, summary.top_gaps)
    console.print("rule health: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.rule_health.items())))
