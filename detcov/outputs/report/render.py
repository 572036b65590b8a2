"""Render the quarterly report: one self-contained HTML page (Jinja2, autoescaped, plotly.js inlined once),
its PDF printed by headless Chromium, and ``report.xlsx`` with the same tables."""

from __future__ import annotations

import getpass
import socket
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from detcov import __version__
from detcov.attack import AttackKB
from detcov.errors import DetcovError
from detcov.fileio import atomic_write_text, make_folder
from detcov.outputs import chromium
from detcov.outputs.excel import write_workbook
from detcov.outputs.heatmap import PLOTLY_CONFIG
from detcov.outputs.history import open_history, parse_quarter
from detcov.outputs.history.actions import PlanFileRecord, file_sha256, read_plans
from detcov.outputs.history.history import kb_for_comparison
from detcov.outputs.history.quarters import quarter_key
from detcov.outputs.report import compat
from detcov.outputs.report.board import RAG
from detcov.outputs.report.charts import heatmap_figures, tactic_figure, trend_figure
from detcov.outputs.report.i18n import Catalogue, catalogue
from detcov.outputs.report.model import ReportData, RunInfo, report_data
from detcov.outputs.report.narrative import executive_summary
from detcov.outputs.report.tables import report_tables

FORMATS = ("html", "pdf", "xlsx")
SECTIONS = ("summary", "kpis", "risks", "crown", "actions", "trends", "tactics", "heatmaps", "groups",
            "rule_health", "data_quality", "validation", "changes", "controls", "evidence")
SCORE_COLUMNS = (0.0, 100.0)
PRINT_PX = (1040, 590)  # A4 landscape inside 10 mm margins, less a heading, in CSS px


def print_zoom(fig: Any) -> float:
    """The CSS zoom that fits one figure on one printed page (never enlarged)."""
    width, height = float(fig.layout.width or 1000), float(fig.layout.height or 600)
    return round(min(1.0, PRINT_PX[0] / width, PRINT_PX[1] / height), 3)


def parse_formats(formats: Sequence[str] | str) -> list[str]:
    """``"html,pdf"`` or ``["html", "pdf"]`` → validated, de-duplicated, in the given order."""
    items = formats.split(",") if isinstance(formats, str) else [p for f in formats for p in f.split(",")]
    out: list[str] = []
    for item in (i.strip().lower() for i in items if i.strip()):
        if item not in FORMATS:
            raise DetcovError(f"report format {item!r} is not available", hint=f"use {', '.join(FORMATS)}")
        if item not in out:
            out.append(item)
    return out or ["html"]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def css_string(text: str) -> Markup:
    """``text`` as a quoted CSS string for the page header (``<`` escaped, so it cannot close the style tag)."""
    out = "".join(f"\\{ord(ch):x} " if ch in '"\\<>&' or ord(ch) < 32 else ch for ch in str(text))
    return Markup(f'"{out}"')


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("detcov.outputs.report", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=False, lstrip_blocks=False)
    env.filters["cell"] = _cell
    env.filters["css_string"] = css_string
    return env


def _div(fig: Any, div_id: str) -> Markup:
    return Markup(fig.to_html(full_html=False, include_plotlyjs=False, config=PLOTLY_CONFIG, div_id=div_id))


def figure_divs(data: ReportData, kb: AttackKB | None, t: Catalogue) -> dict[str, Any]:
    heatmaps = heatmap_figures(data, kb, t) if kb is not None else []
    return {"trend": _div(trend_figure(data, t), "chart-trend"),
            "tactics": _div(tactic_figure(data, t), "chart-tactics"),
            "heatmaps": [(heading, _div(fig, f"heatmap-{i}"), print_zoom(fig))
                         for i, (heading, fig) in enumerate(heatmaps)]}


def plain_key(data: ReportData) -> str:
    """Version 2 counts technique × system-group cells (criticality-weighted), version 1 techniques."""
    return "kpi.plain_cells" if data.summary_version >= 2 else "kpi.plain"


def render_html(data: ReportData, t: Catalogue, kb: AttackKB | None, sector: Any = None) -> str:
    """The report page (see the module docstring); ``sector``: the sector block's table (``--sector``)."""
    css = resources.files("detcov.outputs.report").joinpath("templates").joinpath("report.css").read_text("utf-8")
    template = environment().get_template("report.html.j2")
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return template.render(
        data=data, s=data.summary, t=t, tables=report_tables(data, t), figures=figure_divs(data, kb, t),
        sections=SECTIONS, css=Markup(css), plotlyjs=Markup(get_plotlyjs()), detcov_version=__version__,
        generated=now, generated_date=t.date(now), exec=executive_summary(data, t),
        classification=data.run.classification or t("classification.default"),
        rag_labels={t(f"rag.{r}"): r for r in RAG},
        thresholds={k: compat.threshold(data.summary, k) or 1 for k in ("visibility", "detection", "blocking")},
        not_observable=compat.not_observable(data.summary), hardening=compat.hardening(data.summary),
        plain_key=plain_key(data), sector=sector,
    )


def write_xlsx(path: Path, data: ReportData, t: Catalogue) -> Path:
    tables = report_tables(data, t)
    sheets = {tb.title: tb.frame() for tb in tables.values()}
    percent_columns = {c: SCORE_COLUMNS for key in ("trends", "tactics", "groups", "crown", "csf")
                       for c in tables[key].columns[1:] if "%" in c}
    return write_workbook(path, sheets, score_columns=percent_columns)


def report_kb(data: ReportData, kb: AttackKB | None) -> AttackKB | None:
    """The knowledge base for the heatmaps: ``kb`` if given, else this quarter's ATT&CK version if it is local."""
    if kb is not None:
        return kb
    return kb_for_comparison(None, data.snapshot.attack_version, None)


def run_info(store: Path, quarter: str, classification: str, prepared_by: str) -> RunInfo:
    plans = read_plans(store)
    recorded = [q for q in plans.files if quarter_key(q) <= quarter_key(quarter)]
    files: dict[str, PlanFileRecord] = {}
    for q in recorded:  # the latest record of each kind at or before the quarter
        files.update({f.kind: f for f in plans.files[q]})
    return RunInfo(classification, prepared_by or default_preparer(), tuple(files.values()), str(Path(store)),
                   file_sha256(store))


def default_preparer() -> str:
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):
        return ""


def build_report(store: Path, quarter: str, out_dir: Path, *, lang: str = "en",
                 formats: Sequence[str] = ("html",), kb: AttackKB | None = None, classification: str = "",
                 prepared_by: str = "", sector: Path | None = None) -> list[Path]:
    """Write ``report-<quarter>-<lang>.{html,pdf,xlsx}`` into ``out_dir``; returns the paths written.

    ``kb`` draws the ATT&CK-matrix heatmaps; without it the quarter's ATT&CK version is looked up locally
    (never downloaded) and the heatmaps are left out, with a note, when it is not there. Targets and the action
    plan come from the history store (``detcov report actions record``); ``classification`` heads every page.
    ``sector``: a merged sector (``detcov sector merge`` output) to show the institution's percentile against.
    """
    from detcov.outputs.report.sector import headline_kpis, load_sector, sector_table

    wanted = parse_formats(formats)
    sector_kpis = load_sector(sector)
    t = catalogue(lang)
    if "pdf" in wanted:
        chromium.require_chromium()  # fail before any work when the PDF cannot be printed
    quarter = parse_quarter(quarter)
    history = open_history(Path(store))
    data = report_data(history, quarter, kb, run_info(Path(store), quarter, classification, prepared_by))
    out_dir = make_folder(Path(out_dir))
    stem = out_dir / f"report-{data.quarter}-{t.lang}"
    written: list[Path] = []
    if "html" in wanted or "pdf" in wanted:
        block = sector_table(headline_kpis(data.summary), sector_kpis, t) if sector_kpis else None
        page = render_html(data, t, report_kb(data, kb), block)
        if "html" in wanted:
            atomic_write_text(stem.with_suffix(".html"), page)
            written.append(stem.with_suffix(".html"))
        if "pdf" in wanted:
            with tempfile.TemporaryDirectory(prefix="detcov-report-") as tmp:  # a PDF-only run leaves no HTML
                source = Path(tmp) / "report.html"
                source.write_text(page, encoding="utf-8")
                written.append(chromium.print_pdf(source, stem.with_suffix(".pdf"), budget_ms=8000))
    if "xlsx" in wanted:
        written.append(write_xlsx(stem.with_suffix(".xlsx"), data, t))
    return written
