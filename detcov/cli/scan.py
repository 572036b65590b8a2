"""``detcov scan detcov.yaml``: the main job — scores, gaps, recommendations, layers, heatmaps, spreadsheets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from detcov.cli.common import attack_options, console, err_console, print_issues, scan_inputs
from detcov.cli.terminal import print_summary
from detcov.errors import DetcovError
from detcov.fileio import protect_inputs

if TYPE_CHECKING:
    from detcov.coverage.summary import Summary


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


@click.command(epilog="""Examples:

\b
  detcov scan examples/demo-bank/detcov.yaml --out demo-out     # the demo bank
  detcov scan detcov.yaml --record 2026Q3                        # scan and store in the quarterly history
  detcov scan detcov.yaml --fail-under detection=60              # exit 1 below 60 % (CI pipelines)
  detcov scan detcov.yaml --attack-version 17.1 --png            # another ATT&CK version, PNG heatmaps too

Start a config with `detcov init DIR`. Rule files are cached by path, size and modification time
($DETCOV_CACHE_DIR), so a second scan of an unchanged rule folder only reads what changed.
""")
@click.argument("config", type=click.Path(path_type=Path, dir_okay=False))
@attack_options
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Output folder (default: the config's 'output').")
@click.option("--png", is_flag=True, help="Also write PNG heatmaps (needs Chromium).")
@click.option("--group", "groups", multiple=True, metavar="NAME",
              help="Also write layers of one system group (layers/groups/NAME/); 'critical' = every group with "
                   "criticality >= 4; repeatable.")
@click.option("--record", "quarter", metavar="QUARTER", help="Record this scan in the history store, e.g. 2026Q3.")
@click.option("--replace", is_flag=True, help="With --record: replace an existing record of that quarter.")
@click.option("--fail-under", "fail_under", multiple=True, metavar="KPI=PCT",
              help="Exit 1 when a KPI is below PCT (e.g. detection=60); repeatable; adds to the config's.")
def scan(config: Path, attack_path: Path | None, attack_version: str | None, out_dir: Path | None, png: bool,
         groups: tuple[str, ...], quarter: str | None, replace: bool, fail_under: tuple[str, ...]) -> None:
    """Run a coverage scan from a scan config (file_type: scan)."""
    from detcov.config import resolve
    from detcov.coverage.engine import read_scan, score_scan
    from detcov.outputs.scan_outputs import BACKGROUND_MIN_RULES, scan_outputs, workbook_worker
    from detcov.rules.reader import count_files

    thresholds = _parse_thresholds(fail_under)
    inputs = scan_inputs(config)
    with protect_inputs(inputs), console.status("scanning…") as status, \
            workbook_worker(count_files(inputs, BACKGROUND_MIN_RULES)) as worker:  # a big rule folder: started now
        def progress(step: str) -> None:
            status.update(f"{step}…")

        read = read_scan(config, attack_path=attack_path, attack_version=attack_version, progress=progress)
        out = out_dir or resolve(read.base, read.config.output)
        with scan_outputs(out, worker) as outputs:
            outputs.start(read)  # a big workbook's rules sheet is written by a second process while this one scores
            result = score_scan(read, progress)
            status.update("writing layers, heatmaps and spreadsheets…")
            summary = outputs.finish(result, png=png, groups=groups)
        if result.issues:
            print_issues(result.issues)
        targets = {**{str(k): v for k, v in result.config.fail_under.items()}, **thresholds}
        print_summary(console, summary, targets)
        console.print(f"outputs: {out}")
        if quarter:
            from detcov.outputs.history import record_scan

            store = resolve(result.base, result.config.history or "detcov-history.sqlite")
            record_scan(store, quarter, out, replace=replace)
            console.print(f"recorded {quarter} in {store}")
    _check_thresholds(summary, targets)


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
