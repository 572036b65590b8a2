"""``detcov scan detcov.yaml``: the main job — scores, gaps, recommendations, layers, heatmaps, spreadsheets."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from detcov.cli.common import attack_options, console, err_console, print_issues, scan_inputs
from detcov.config import resolve
from detcov.coverage.summary import Summary
from detcov.errors import DetcovError
from detcov.fileio import protect_inputs


def _parse_thresholds(values: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    for value in values:
        key, _, number = value.partition("=")
        if key not in ("visibility", "detection", "blocking", "validated") or not number:
            raise DetcovError(f"--fail-under {value!r}", hint="use KPI=PERCENT, e.g. detection=60 "
                              "(KPIs: visibility, detection, blocking, validated)")
        try:
            out[key] = float(number)
        except ValueError as exc:
            raise DetcovError(f"--fail-under {value!r}: {number!r} is not a number",
                              hint="e.g. detection=60") from exc
    return out


def _print_summary(summary: Summary) -> None:
    k = summary.kpis
    table = Table(title=f"{summary.scope.institution} — {summary.scope.techniques_in_scope} techniques in scope "
                        f"(ATT&CK {summary.attack.version}, profiles: {', '.join(summary.scope.profiles)})",
                  caption="% of (technique, system group) cells at the threshold, weighted by group criticality; "
                          f"{summary.not_observable} not observable, {summary.not_applicable} not applicable "
                          "(counted apart)")
    for col in ("KPI", "≥", "cells", "%", "threat-w. %", "proven %", "weakest critical group", "best group"):
        table.add_column(col, justify="left" if col in ("KPI", "weakest critical group", "best group") else "right")
    for name, r in (("visibility", k.visibility), ("detection", k.detection), ("blocking", k.blocking),
                    ("validated", k.validated)):
        weakest = f"{r.weakest_group} {r.weakest_percent:.1f}" if r.weakest_group is not None else "—"
        best = f"{r.best_group} {r.best_percent:.1f}" if r.best_group is not None else "—"
        table.add_row(name, str(r.threshold if r.threshold is not None else ""), f"{r.covered}/{r.total}",
                      f"{r.percent:.1f}", f"{r.weighted_percent:.1f}",
                      f"{r.proven_percent:.1f}" if r.proven_percent is not None else "", escape(weakest), escape(best))
    console.print(table)
    groups = Table(title="Per system group (% of its in-scope, observable techniques)")
    for col in ("system group", "crit.", "techniques", "visibility", "detection", "blocking", "blind", "broken"):
        groups.add_column(col, justify="left" if col == "system group" else "right")
    for sg in summary.system_groups:
        groups.add_row(escape(sg.name), str(sg.criticality), str(sg.techniques), f"{sg.visibility:.0f}",
                       f"{sg.detection:.0f}", f"{sg.blocking:.0f}", str(sg.blind), str(sg.broken + sg.contradicted))
    console.print(groups)
    tactics = Table(title="Per tactic (% of cells)")
    for col in ("tactic", "techniques", "visibility", "detection", "blocking"):
        tactics.add_column(col, justify="left" if col == "tactic" else "right")
    for t in summary.per_tactic:
        tactics.add_row(t.name, str(t.techniques), f"{t.visibility:.0f}", f"{t.detection:.0f}", f"{t.blocking:.0f}")
    console.print(tactics)
    gaps = Table(title="Top gaps (priority = threat weight × gap severity × criticality / 5, worst critical group)")
    for col in ("technique", "group", "gap", "priority", "next step"):
        gaps.add_column(col)
    for g in summary.top_gaps:
        gaps.add_row(f"{g.technique} {escape(g.name)}", escape(g.group or ""), g.gap, f"{g.priority:.1f}",
                     escape(g.action[:90]))
    console.print(gaps)
    console.print("rule health: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.rule_health.items())))


@click.command()
@click.argument("config", type=click.Path(path_type=Path, dir_okay=False))
@attack_options
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Output folder (default: the config's 'output').")
@click.option("--png", is_flag=True, help="Also write PNG heatmaps (needs Chromium).")
@click.option("--record", "quarter", metavar="QUARTER", help="Record this scan in the history store, e.g. 2026Q3.")
@click.option("--replace", is_flag=True, help="With --record: replace an existing record of that quarter.")
@click.option("--fail-under", "fail_under", multiple=True, metavar="KPI=PCT",
              help="Exit 1 when a KPI is below PCT (e.g. detection=60); repeatable; adds to the config's.")
def scan(config: Path, attack_path: Path | None, attack_version: str | None, out_dir: Path | None, png: bool,
         quarter: str | None, replace: bool, fail_under: tuple[str, ...]) -> None:
    """Run a coverage scan from a scan config (file_type: scan)."""
    from detcov.coverage.engine import run_scan
    from detcov.outputs.scan_outputs import write_scan_outputs

    thresholds = _parse_thresholds(fail_under)
    with protect_inputs(scan_inputs(config)), console.status("scanning…") as status:
        result = run_scan(config, attack_path=attack_path, attack_version=attack_version,
                          progress=lambda step: status.update(f"{step}…"))
        out = out_dir or resolve(result.base, result.config.output)
        status.update("writing layers, heatmaps and spreadsheets…")
        summary = write_scan_outputs(result, out, png=png)
        if result.issues:
            print_issues(result.issues)
        _print_summary(summary)
        console.print(f"outputs: {out}")
        if quarter:
            from detcov.outputs.history import record_scan

            store = resolve(result.base, result.config.history or "detcov-history.sqlite")
            record_scan(store, quarter, out, replace=replace)
            console.print(f"recorded {quarter} in {store}")
    _check_thresholds(summary, {**{str(k): v for k, v in result.config.fail_under.items()}, **thresholds})


def _check_thresholds(summary: Summary, thresholds: dict[str, float]) -> None:
    failed = []
    for kpi, minimum in thresholds.items():
        value = getattr(summary.kpis, kpi).percent
        if value < minimum:
            failed.append(f"{kpi} {value:.1f}% < {minimum:g}%")
    if failed:
        err_console.print("[bold red]fail-under:[/] " + "; ".join(failed))
        sys.exit(1)


COMMANDS = (scan,)
