"""``detcov report``: the quarterly effectiveness-evaluation report from the history store, and
``detcov report actions init|record|status``: the action plan and KPI targets it tracks (PDCA)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from detcov.cli.common import attack_options, console
from detcov.cli.history import optional_kb, store_option
from detcov.errors import DetcovError
from detcov.outputs.report.i18n import LANGUAGES


@click.group(invoke_without_command=True, epilog="""Examples:

\b
  detcov report --quarter 2026Q3 --out report                          # HTML, English
  detcov report --quarter 2026Q3 --lang zh-TW --format html,pdf,xlsx --out report
  detcov report actions init --quarter 2026Q3 --out action-plan.yaml   # seed the action plan from the gaps
  detcov report --quarter 2026Q3 --store /srv/soc/detcov-history.sqlite --attack-version 18.1

PDF needs headless Chromium (Debian: apt-get install chromium; fonts-noto-cjk for zh-TW).
""")
@click.option("--quarter", help="The recorded quarter to report on, e.g. 2026Q3.")
@click.option("--lang", default="en", show_default=True, help=f"Language: {', '.join(LANGUAGES)}.")
@click.option("--format", "formats", default="html", show_default=True,
              help="Comma-separated: html, pdf (headless Chromium, offline), xlsx.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=".",
              show_default=True, help="Folder to write report-<quarter>-<lang>.<ext> into.")
@click.option("--sector", "sector", type=click.Path(path_type=Path, exists=True),
              help="A merged sector (the --out folder of `detcov sector merge`): adds the institution's percentile.")
@click.option("--classification", default="", help="Printed in every page header (default: internal use).")
@click.option("--prepared-by", default="", help="Who prepared it, for the sign-off (default: user@host).")
@attack_options
@store_option
@click.pass_context
def report(ctx: click.Context, quarter: str | None, lang: str, formats: str, out_dir: Path, sector: Path | None,
           classification: str, prepared_by: str, attack_path: Path | None, attack_version: str | None,
           store: Path) -> None:
    """Quarterly effectiveness-evaluation report (HTML / PDF / XLSX, English or Traditional Chinese).

    KPI targets and the action plan come from the history store: record them with `detcov report actions record`.
    The ATT&CK matrix heatmaps need the quarter's ATT&CK bundle: pass --attack, or keep it where detcov finds
    bundles (DETCOV_ATTACK_DATA, the download cache); without it they are left out with a note.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not quarter:
        raise DetcovError("which quarter?", hint="pass --quarter 2026Q3 (or a subcommand: `detcov report actions`)")
    from detcov.outputs.report import build_report, parse_formats, parse_language

    written = build_report(store, quarter, out_dir, lang=parse_language(lang), formats=parse_formats(formats),
                           kb=optional_kb(attack_path, attack_version), classification=classification,
                           prepared_by=prepared_by, sector=sector)
    for path in written:
        console.print(escape(str(path)))


@report.group()
def actions() -> None:
    """The action plan and KPI targets: seed, record each quarter, follow up."""


@actions.command("init")
@click.option("--quarter", required=True, help="The recorded quarter whose top gaps seed the plan.")
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), default="action-plan.yaml",
              show_default=True, help="The action-plan file to create, or to add new gaps to.")
@click.option("--lang", default="en", show_default=True, help="Language of the action titles.")
@click.option("--owner", default="", help="Owner to put on new actions (edit them afterwards).")
@click.option("--due-in", type=click.IntRange(0, 8), default=1, show_default=True,
              help="Quarters from --quarter until new actions are due.")
@click.option("--top", type=click.IntRange(1, 100), default=10, show_default=True, help="Top gaps to consider.")
@store_option
def init(quarter: str, out: Path, lang: str, owner: str, due_in: int, top: int, store: Path) -> None:
    """Seed an action plan from a quarter's top gaps (adds new ones only; never changes what you wrote)."""
    from detcov.outputs.history import open_history, parse_quarter
    from detcov.outputs.report import catalogue
    from detcov.outputs.report.plan import init_plan

    snapshot = open_history(store).load(parse_quarter(quarter))
    added, kept = init_plan(out, snapshot, catalogue(lang), owner=owner, due_in=due_in, top=top)
    console.print(f"{escape(str(out))}: {added} actions added, {kept} kept as they were")


@actions.command("record")
@click.option("--quarter", required=True, help="The quarter the plan and targets are recorded for.")
@click.option("--actions", "actions_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="The action-plan file (file_type: action-plan).")
@click.option("--targets", "targets_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="The KPI-targets file (file_type: kpi-targets).")
@store_option
def record(quarter: str, actions_file: Path | None, targets_file: Path | None, store: Path) -> None:
    """Record the quarter's action plan and/or KPI targets in the history store (replaces that quarter's)."""
    from detcov.outputs.report.plan import record_files

    console.print(record_files(store, quarter, actions=actions_file, targets=targets_file))


@actions.command("status")
@click.option("--quarter", required=True, help="The quarter to follow up.")
@click.option("--lang", default="en", show_default=True, help="Language of the labels.")
@store_option
def status(quarter: str, lang: str, store: Path) -> None:
    """Each action's follow-up for the quarter: done, done late, late, on track, dropped, removed."""
    from detcov.outputs.history import open_history, parse_quarter
    from detcov.outputs.history.actions import read_plans
    from detcov.outputs.report import catalogue
    from detcov.outputs.report.tracking import track

    quarter = parse_quarter(quarter)
    t = catalogue(lang)
    snap = open_history(store).load(quarter)
    tracking = track(read_plans(store), quarter, snap.techniques)
    if tracking.quarter is None:
        console.print(t("actions.none"))
        return
    table = Table(t("col.action_id"), t("col.action"), t("col.owner"), t("col.due"), t("col.tracking"))
    for a in tracking.actions:
        table.add_row(escape(a.action.id), escape(a.action.title), escape(a.action.owner or t("plan.no_owner")),
                      a.action.due, t(f"track.{a.state}"))
    console.print(table)


COMMANDS = (report,)
