"""``detcov suggest``: a rule pack for the gaps, from the user's Sigma corpus, in their SIEM's language."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from detcov.cli.common import attack_options, console, print_issues, scan_inputs
from detcov.errors import DetcovError
from detcov.fileio import atomic_write_text, protect_inputs
from detcov.rulepack.model import Target

if TYPE_CHECKING:
    from detcov.attack import AttackKB
    from detcov.rulepack import Converted
    from detcov.rulepack.whatif import WhatIf
    from detcov.rules import RuleSet

TARGETS = tuple(t.value for t in Target)


@click.command(epilog="""Examples:

\b
  detcov suggest --scan detcov.yaml --sigma ~/src/sigma --target splunk --out rulepack
  detcov suggest --scan detcov.yaml --sigma ~/src/sigma/rules --target sentinel --top 10 --no-what-if --out pack

Needs the `sigma` extra: pip install 'detcov[sigma]'.
""")
@click.option("--scan", "scan_path", required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Scan config (detcov.yaml): inventory, rules and threat profiles.")
@click.option("--sigma", "sigma_path", required=True, type=click.Path(path_type=Path, exists=True),
              help="Sigma rule corpus (a clone of SigmaHQ/sigma, or its rules/ folder).")
@click.option("--target", required=True, type=click.Choice(TARGETS),
              help="SIEM language: splunk (SPL), elastic (Lucene), elastic-esql (ES|QL), sentinel (KQL).")
@click.option("--top", default=30, show_default=True, type=click.IntRange(1, 1000), help="Rules in the pack.")
@click.option("--per-technique", default=3, show_default=True, type=click.IntRange(1, 20),
              help="At most this many rules chosen for one gap technique.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder to write the pack to (created).")
@click.option("--what-if/--no-what-if", "whatif", default=True, show_default=True,
              help="Re-run the scan with the pack's healthy rules deployed and report the KPI gain.")
@attack_options
def suggest(scan_path: Path, sigma_path: Path, target: str, top: int, per_technique: int, out_dir: Path,
            whatif: bool, attack_path: Path | None, attack_version: str | None) -> None:
    """Suggest Sigma rules for the priority gaps (visible but undetected, or detected only by broken rules),
    convert them for the target SIEM and write a rule pack with an index and the expected coverage gain."""
    from detcov.coverage.engine import run_scan
    from detcov.rulepack import convert, select_candidates, write_pack
    from detcov.rulepack.scope import group_views, splunk_feeds
    from detcov.rulepack.whatif import what_if, whatif_md
    from detcov.rules import read_rules

    scan = run_scan(scan_path, attack_path=attack_path, attack_version=attack_version)
    print_issues(scan.issues)
    corpus = read_rules([sigma_path], scan.kb, "sigma")
    if not corpus.rules:
        raise DetcovError(f"no Sigma rule found under {sigma_path}", hint="point --sigma at a SigmaHQ/sigma clone")
    _print_corpus(corpus, scan.kb)
    family = {Target.SPLUNK: "splunk", Target.SENTINEL: "sentinel"}.get(Target(target), "elastic")
    siem = next((s.id for s in scan.estate.siems if s.product == family), None)
    groups = group_views(scan.estate, siem)
    candidates = select_candidates(scan.kb, scan.gaps, scan.telemetry, scan.ruleset.rules, corpus.rules, top,
                                   per_technique=per_technique, groups=groups)
    converted = convert(candidates, target, scan.telemetry, groups=groups)
    feeds = splunk_feeds(scan.inventory) if target == Target.SPLUNK else None
    with protect_inputs([*scan_inputs(scan_path), sigma_path]):
        files = write_pack(converted, out_dir, target, scan.kb, feeds)
    _print_pack(converted, out_dir, len(files))
    if whatif and candidates:
        gain = what_if(scan, converted)
        with protect_inputs([*scan_inputs(scan_path), sigma_path]):
            atomic_write_text(out_dir / "what-if.json", json.dumps(gain.as_dict(), indent=2) + "\n")
            atomic_write_text(out_dir / "what-if.md", whatif_md(gain))
        _print_gain(gain)


def _print_corpus(corpus: RuleSet, kb: AttackKB) -> None:
    from detcov.rulepack.newer import newer_id

    tags = [r for rule in corpus.rules for r in rule.techniques if r.id and newer_id(r, kb) is not None]
    mapped = sorted({f"{r.id}→{r.current}" for r in tags if r.current})
    console.print(f"Sigma corpus: {len(corpus.files)} files, [bold]{len(corpus)}[/] rules, "
                  f"{corpus.files_skipped} files skipped")
    if tags:
        unmatched = sorted({r.id or "" for r in tags if not r.current})
        console.print(f"  {len(tags)} tags use ids of another ATT&CK release than {kb.version}: "
                      f"{sum(1 for r in tags if r.current)} counted through the crosswalk "
                      f"({', '.join(mapped[:4])}{' …' if len(mapped) > 4 else ''}), "
                      f"{sum(1 for r in tags if not r.current)} with no known equivalent "
                      f"({', '.join(unmatched) or 'none'}), reported per rule in the index")


def _print_pack(converted: list[Converted], out_dir: Path, files: int) -> None:
    table = Table(title="Rule pack", title_justify="left")
    for col in ("#", "gap techniques", "rule", "level", "runs on", "converted"):
        table.add_column(col, overflow="fold")
    for c in converted:
        cand = c.candidate
        kind = " [dim](tool signature)[/]" if cand.signature else ""
        table.add_row(str(cand.rank), " ".join(cand.techniques[:3]), escape(cand.rule.title) + kind,
                      cand.rule.severity or "", escape(", ".join(c.groups or cand.groups)),
                      escape(c.pipeline) if c.ok else f"[red]no[/]: {escape(c.error)}")
    console.print(table)
    done = sum(c.ok for c in converted)
    console.print(f"{len(converted)} rules suggested, {done} converted, {len(converted) - done} not converted "
                  f"(reasons in index.md); {files} files written to {escape(str(out_dir))}")


def _print_gain(gain: WhatIf) -> None:
    table = Table(title="Expected gain (pack deployed)", title_justify="left")
    for col in ("KPI", "before", "after", "change", "weighted change"):
        table.add_column(col, justify="right" if col != "KPI" else "left")
    for d in gain.deltas:
        table.add_row(d.kpi, f"{d.before.percent:.1f} %", f"{d.after.percent:.1f} %", f"{d.percent:+.1f} pts",
                      f"{d.weighted_percent:+.1f} pts")
    console.print(table)
    console.print(f"{len(gain.closed)} techniques leave rule-gap/broken: {', '.join(gain.closed[:12])}"
                  + (" …" if len(gain.closed) > 12 else ""))


COMMANDS = (suggest,)
