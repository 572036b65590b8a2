"""Render the quarterly report: one self-contained HTML page (Jinja2, autoescaped, plotly.js inlined once),
its PDF printed by headless Chromium, and ``report.xlsx`` with the same tables."""

from __future__ import annotations

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
from detcov.outputs.history.history import kb_for_comparison
from detcov.outputs.report.charts import heatmap_figures, tactic_figure, trend_figure
from detcov.outputs.report.i18n import Catalogue, catalogue
from detcov.outputs.report.model import ReportData, report_data
from detcov.outputs.report.tables import report_tables

FORMATS = ("html", "pdf", "xlsx")
SECTIONS = ("summary", "trends", "tactics", "groups", "heatmaps", "gaps", "rule_health", "data_quality",
            "validation", "changes", "method")
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


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("detcov.outputs.report", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=False, lstrip_blocks=False)
    env.filters["cell"] = _cell
    return env


def _div(fig: Any, div_id: str) -> Markup:
    return Markup(fig.to_html(full_html=False, include_plotlyjs=False, config=PLOTLY_CONFIG, div_id=div_id))


def figure_divs(data: ReportData, kb: AttackKB | None, t: Catalogue) -> dict[str, Any]:
    heatmaps = heatmap_figures(data, kb, t) if kb is not None else []
    return {"trend": _div(trend_figure(data, t), "trend"), "tactics": _div(tactic_figure(data, t), "tactics"),
            "heatmaps": [(heading, _div(fig, f"heatmap-{i}"), print_zoom(fig))
                         for i, (heading, fig) in enumerate(heatmaps)]}


def render_html(data: ReportData, t: Catalogue, kb: AttackKB | None) -> str:
    """The report page (see the module docstring)."""
    css = resources.files("detcov.outputs.report").joinpath("templates").joinpath("report.css").read_text("utf-8")
    template = environment().get_template("report.html.j2")
    return template.render(
        data=data, s=data.summary, t=t, tables=report_tables(data, t), figures=figure_divs(data, kb, t),
        sections=SECTIONS, css=Markup(css), plotlyjs=Markup(get_plotlyjs()), detcov_version=__version__,
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def write_xlsx(path: Path, data: ReportData, t: Catalogue) -> Path:
    tables = report_tables(data, t)
    sheets = {tb.title: tb.frame() for tb in tables.values()}
    percent_columns = {c: SCORE_COLUMNS for key in ("trends", "tactics", "groups") for c in tables[key].columns[2:]
                       if "%" in c}
    return write_workbook(path, sheets, score_columns=percent_columns)


def report_kb(data: ReportData, kb: AttackKB | None) -> AttackKB | None:
    """The knowledge base for the heatmaps: ``kb`` if given, else this quarter's ATT&CK version if it is local."""
    if kb is not None:
        return kb
    return kb_for_comparison(None, data.snapshot.attack_version, None)


def build_report(store: Path, quarter: str, out_dir: Path, *, lang: str = "en",
                 formats: Sequence[str] = ("html",), kb: AttackKB | None = None) -> list[Path]:
    """Write ``report-<quarter>-<lang>.{html,pdf,xlsx}`` into ``out_dir``; returns the paths written.

    ``kb`` draws the ATT&CK-matrix heatmaps; without it the quarter's ATT&CK version is looked up locally
    (never downloaded) and the heatmaps are left out, with a note, when it is not there.
    """
    wanted = parse_formats(formats)
    t = catalogue(lang)
    if "pdf" in wanted:
        chromium.require_chromium()  # fail before any work when the PDF cannot be printed
    data = report_data(open_history(Path(store)), parse_quarter(quarter), kb)
    out_dir = make_folder(Path(out_dir))
    stem = out_dir / f"report-{data.quarter}-{t.lang}"
    written: list[Path] = []
    if "html" in wanted or "pdf" in wanted:
        page = render_html(data, t, report_kb(data, kb))
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
