"""``detcov share`` (one institution's anonymised coverage) and ``detcov sector merge`` (the F-ISAC sector view)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from detcov.cli.common import attack_options, console, load_kb, print_issues
from detcov.defaults import DEFAULT_MIN_HOSTS


@click.command(epilog="""Examples:

\b
  detcov share examples/demo-bank/detcov.yaml --out to-fisac        # one anonymised share (Parquet + manifest)
  detcov share detcov.yaml --out to-fisac --tiers --min-hosts 10    # scope classes split by criticality tier
""")
@click.argument("config", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder to write share-<random id>.parquet and .json into (created).")
@click.option("--tiers", is_flag=True, help="Split scope classes by criticality tier (crown-jewel, critical, "
              "standard), not only by group kind.")
@click.option("--min-hosts", default=DEFAULT_MIN_HOSTS, show_default=True, type=click.IntRange(1, 10_000),
              help="A scope class with fewer hosts is generalised (tier dropped, then folded into 'other').")
@attack_options
def share(config: Path, out_dir: Path, tiers: bool, min_hosts: int, attack_path: Path | None,
          attack_version: str | None) -> None:
    """Export an anonymised coverage summary for the sector view (no names, hosts, rule text or paths).

    Per technique × scope class (group kind): visibility, detection and blocking bands, healthy rules per
    format (0, 1, 2, 3+), the financial threat-profile weight; and the headline KPIs in whole percent."""
    from detcov.coverage.engine import run_scan
    from detcov.sector.share import build_share, write_share
    from detcov.sector.source import member_coverage

    result = run_scan(config, attack_path=attack_path, attack_version=attack_version)
    print_issues(result.issues)
    table, manifest = build_share(member_coverage(result), tiers=tiers, min_hosts=min_hosts)
    parquet, meta = write_share(out_dir, table, manifest)
    anon = manifest.anonymisation
    console.print(f"share {manifest.submission}: {manifest.rows} rows, scope classes "
                  f"{', '.join(manifest.scope_classes)}; {anon.generalised} generalised, {anon.suppressed} "
                  f"suppressed (fewer than {min_hosts} hosts)")
    console.print(escape(str(parquet)))
    console.print(escape(str(meta)))


@click.group(epilog="""Examples:

\b
  detcov sector merge shares/ --out sector                          # the F-ISAC table, heatmap and layer
  detcov sector merge shares/ --out sector -k 5 --sigma sigma/      # with rule-pack candidates per top gap
  detcov report --quarter 2026Q3 --sector sector                    # a member's percentile in its report
""")
def sector() -> None:
    """The sector view: merge the members' shares into an F-ISAC benchmark."""


@sector.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the sector table, sector.json, heatmap and layer (created).")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(2, 1000),
              help="Counts of fewer institutions are suppressed.")
@click.option("--top", default=15, show_default=True, type=click.IntRange(1, 200), help="Top sector gaps.")
@click.option("--sigma", "sigma_path", type=click.Path(path_type=Path, exists=True),
              help="Sigma corpus (a SigmaHQ/sigma clone): rule-pack candidates for each top gap.")
@click.option("--no-html", is_flag=True, help="Skip the heatmap page.")
@attack_options
def merge(folder: Path, out_dir: Path, k: int, top: int, sigma_path: Path | None, no_html: bool,
          attack_path: Path | None, attack_version: str | None) -> None:
    """Merge every share under FOLDER: per technique the band distribution and the share of institutions blind
    or without detection, weighted by the financial threat profile; a heatmap, a layer, the top gaps."""
    from detcov.sector.merge import merge_folder
    from detcov.sector.table import suggestions, technique_rows, top_gaps, weighted_shares
    from detcov.sector.write import write_sector

    kb = load_kb(attack_path, attack_version)[0]
    result = merge_folder(folder, kb, k=k)
    print_issues(result.issues)
    rows = technique_rows(result, kb)
    gaps = top_gaps(rows, top)
    picks = suggestions(kb, gaps, sigma_path) if sigma_path and gaps else {}
    written = write_sector(out_dir, result, kb, rows, gaps, picks, corpus=sigma_path is not None, html=not no_html)
    versions = ", ".join(f"{v} ({n})" for v, n in sorted(result.versions.items()))
    console.print(f"{result.members} institutions (ATT&CK {versions}) merged into ATT&CK {result.attack_version}; "
                  f"k = {k}")
    shares = weighted_shares(rows)
    if shares["blind_or_undetected"] is not None:
        console.print("threat-weighted, over the financial profile: "
                      + ", ".join(f"{100 * (v or 0):.0f} % {n.replace('_', ' ')}" for n, v in shares.items()))
    table = Table(title="Top sector gaps (threat weight × share blind or without detection)", title_justify="left")
    table.add_column("technique", min_width=24)
    for col in ("weight", "blind", "no detection", "gap score"):
        table.add_column(col, justify="right", no_wrap=True)
    for g in gaps:
        table.add_row(f"{g.technique} {escape(g.name)}", f"{g.weight:.2f}", f"{100 * (g.blind or 0):.0f} %",
                      f"{100 * (g.undetected or 0):.0f} %", f"{g.gap_score:.2f}")
    console.print(table)
    if sigma_path:
        console.print("Sigma candidates (rule-pack selector, best first):")
        for g in gaps:
            titles = "; ".join(c.rule.title for c in picks.get(g.technique, ())) or "none in the corpus"
            console.print(f"  {g.technique}: {escape(titles)}")
    for path in written:
        console.print(escape(str(path)))


COMMANDS = (share, sector)
