"""ATT&CK-matrix heatmaps with plotly: one figure per view, self-contained HTML and PNG.

Layout (ECOSYSTEM.md §4): one ``go.Heatmap``; columns are the tactics in the bundle's matrix order; each
column lists that tactic's parent techniques, worst first (the view's bands by severity), then by name. The
figure is at most :data:`MAX_WIDTH` px wide so it fits a 1,600 px screen with its legend, and the legend sits
at the top right, visible without scrolling.

Sub-techniques are folded into their parent's cell, and the parent shows its family's **worst** state (the
parent's own cell and every sub-technique's): T1059 is "no rule" when T1059.003 has none, even if T1059.001 has
a rule. The label marks it: ``◐`` when the family is split (members in different score bands; "not
applicable" and "out of scope" do not split a family), ``▾`` when the colour
comes from a sub-technique; the hover lists every sub-technique with its own band.

Colours and hovers come from one :class:`~detcov.outputs.colors.Band` per cell, so a hover always names the
colour it sits on, and the legend lists exactly the bands drawn ("no rule", "not applicable", "out of scope"
each have their own).
"""

from __future__ import annotations

import functools
import html
import tempfile
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from detcov.attack import AttackKB
from detcov.attack.model import Tactic, Technique
from detcov.errors import DetcovError
from detcov.fileio import atomic_write_text
from detcov.outputs import chromium
from detcov.outputs.colors import NO_DATA, STATE_BANDS, Band, ViewScale
from detcov.outputs.navigator import TechniqueCell, View, cell_band, used_legend, view_scale

ROW_PX = 34
COLUMN_PX = 96
LEGEND_PX = 190
HEADER_PX = 170
MAX_WIDTH = 1560
SPLIT_MARK = "◐"
FROM_SUB_MARK = "▾"
MARKS_NOTE = (f"{SPLIT_MARK} sub-techniques differ, the cell shows the worst · {FROM_SUB_MARK} colour from a "
              "sub-technique · hover for the list")
PLOTLY_CONFIG = {"displayModeBar": False, "responsive": False}


@dataclass(frozen=True, slots=True)
class MatrixCell:
    """One drawn cell: a parent technique under one tactic, with its family's worst band."""

    technique: Technique
    band: Band
    hover: str
    split: bool
    from_sub: str | None  # the sub-technique whose band is drawn, if not the parent's own

    @property
    def mark(self) -> str:
        return SPLIT_MARK if self.split else (FROM_SUB_MARK if self.from_sub else "")


# ----- which techniques, in which order ------------------------------------------------------------
def _on_platforms(tech: Technique, platforms: Sequence[str] | None) -> bool:
    return not platforms or bool(set(tech.platforms) & set(platforms))


@functools.lru_cache(maxsize=16_384)  # the seven views repeat the same explanations
def _wrap(text: str, width: int = 90) -> str:
    return "<br>".join(html.escape(line) for line in textwrap.wrap(text, width)) if text else ""


Bands = Mapping[str, Band]


def family(kb: AttackKB, tech: Technique, bands: Bands) -> list[tuple[str, Band]]:
    """The parent's own band (if it has a cell) and each sub-technique's, parent first then by id."""
    members = [tech.id, *sorted(s.id for s in kb.subtechniques(tech.id))]
    return [(tid, bands[tid]) for tid in members if tid in bands]


def worst(members: Sequence[tuple[str, Band]]) -> tuple[str, Band] | None:
    """The member with the highest severity; ties go to the earlier member (the parent)."""
    best: tuple[str, Band] | None = None
    for tid, band in members:
        if best is None or band.severity > best[1].severity:
            best = (tid, band)
    return best


def hover_text(kb: AttackKB, tech: Technique, tactic: Tactic, cell: TechniqueCell | None,
               members: Sequence[tuple[str, Band]], shown: tuple[str, Band]) -> str:
    """Id, name, tactic, the drawn band (and which member it comes from), the cell's explanation, and one line
    per sub-technique with its own band."""
    tid, band = shown
    lines = [f"<b>{tech.id} {html.escape(tech.name)}</b>", f"Tactic: {html.escape(tactic.name)}",
             f"<b>{html.escape(band.label)}</b>" + (f": {html.escape(band.meaning)}" if band.meaning else "")]
    if tid != tech.id:
        lines.append(f"(worst of its sub-techniques: {tid})")
    if cell is not None:
        if cell.comment:
            lines.append(_wrap(cell.comment))
        lines.extend(f"{html.escape(n)}: {_wrap(v)}" for n, v in cell.metadata)
    subs = [(t, b) for t, b in members if t != tech.id]
    if subs:
        lines.append(f"Sub-techniques ({len(subs)}):")
        for sid, sband in subs:
            sub = kb.technique(sid)
            lines.append(f"&nbsp;&nbsp;{sid} {html.escape(sub.name if sub else '')}: {html.escape(sband.label)}")
    return "<br>".join(lines)


def cell_bands(cells: Mapping[str, TechniqueCell], scale: ViewScale, upper: int) -> dict[str, Band]:
    return {t: b for t, c in cells.items() if (b := cell_band(c, scale, upper)) is not None}


def matrix_columns(kb: AttackKB, cells: Mapping[str, TechniqueCell], scale: ViewScale, upper: int,
                   platforms: Sequence[str] | None = None) -> list[tuple[Tactic, list[MatrixCell]]]:
    """Per tactic (matrix order), its parent techniques, worst first, then by name (a family without any cell
    is drawn as "no data")."""
    bands = cell_bands(cells, scale, upper)
    columns = []
    for tactic in kb.tactics:
        drawn = []
        for tech in kb.techniques_by_tactic(tactic.shortname):
            if tech.is_subtechnique or not _on_platforms(tech, platforms):
                continue
            members = family(kb, tech, bands)
            shown = worst(members) or (tech.id, NO_DATA)
            split = len({b for _, b in members if b not in STATE_BANDS}) > 1
            hover = hover_text(kb, tech, tactic, cells.get(tech.id), members, shown)
            drawn.append(MatrixCell(tech, shown[1], hover, split, shown[0] if shown[0] != tech.id else None))
        drawn.sort(key=lambda m: (-m.band.severity, m.technique.name))
        columns.append((tactic, drawn))
    return columns


# ----- colours -------------------------------------------------------------------------------------
def _band_scale(colors: Sequence[str]) -> list[list[Any]]:
    n = len(colors)
    out: list[list[Any]] = []
    for k, color in enumerate(colors):
        out += [[k / n, color], [(k + 1) / n, color]]
    return out


def _trace_colors(view: View, scale: ViewScale, columns: list[tuple[Tactic, list[MatrixCell]]], upper: int
                  ) -> tuple[dict[str, Any], list[Band]]:
    """Heatmap colour settings (one colour band per legend entry used, legend at the top right) and the bands
    in z order (the colour bar draws z upwards, so the first legend entry is the last z)."""
    bands = used_legend(view, (m.band for _, col in columns for m in col), scale, upper)[::-1]
    settings = {"colorscale": _band_scale([b.color for b in bands]), "zmin": -0.5, "zmax": len(bands) - 0.5,
                "colorbar": {"tickvals": list(range(len(bands))), "ticktext": [html.escape(b.label) for b in bands],
                             "thickness": 16, "lenmode": "pixels", "len": max(26 * len(bands), 60),
                             "y": 1.0, "yanchor": "top", "x": 1.0, "xpad": 6, "outlinewidth": 0,
                             "tickfont": {"size": 11}}}
    return settings, bands


def _label(cell: MatrixCell, width: int = 16) -> str:
    name = cell.technique.name
    name = name if len(name) <= width else name[: width - 1] + "…"
    mark = f" {cell.mark}" if cell.mark else ""
    return f"<b>{cell.technique.id}</b>{mark}<br>{html.escape(name)}"


def _tactic_label(tactic: Tactic) -> str:
    return "<br>".join(html.escape(line) for line in textwrap.wrap(tactic.name, 13, break_long_words=False))


FigureJSON = dict[str, Any]
"""A figure as plotly.js reads it (``{"data": [...], "layout": {...}}``): what the HTML pages embed, as they are."""
Drawn: TypeAlias = "go.Figure | FigureJSON"  # a figure to draw: a plotly figure or its JSON


def matrix_figure(kb: AttackKB, cells: Mapping[str, TechniqueCell], view: View | str, *, title: str,
                  platforms: Sequence[str] | None = None, scale: ViewScale | None = None) -> go.Figure:
    """The ATT&CK-matrix heatmap of one view (see the module docstring for the layout rules), as a plotly figure."""
    return go.Figure(matrix_json(kb, cells, view, title=title, platforms=platforms, scale=scale), _validate=False)


def matrix_json(kb: AttackKB, cells: Mapping[str, TechniqueCell], view: View | str, *, title: str,
                platforms: Sequence[str] | None = None, scale: ViewScale | None = None) -> FigureJSON:
    """:func:`matrix_figure` as plain plotly JSON (a scan's heatmaps.html: no plotly figure object, whose property
    validators alone take 0.3 s to load)."""
    view = View(view)
    scale = scale or view_scale(view)
    upper = scale.upper(c.score for c in cells.values())
    columns = [(t, col) for t, col in matrix_columns(kb, cells, scale, upper, platforms) if col]
    if not columns:
        raise DetcovError(f"no ATT&CK techniques on platforms {', '.join(platforms or [])}",
                          hint=f"use platforms of this ATT&CK version: {', '.join(kb.platforms)}")
    settings, bands = _trace_colors(view, scale, columns, upper)
    index = {b: i for i, b in enumerate(bands)}
    rows = max(len(col) for _, col in columns)

    def grid(value: Any, empty: Any) -> list[list[Any]]:
        return [[value(col[r]) if r < len(col) else empty for _, col in columns] for r in range(rows)]

    trace = {
        "type": "heatmap", "x": [_tactic_label(t) for t, _ in columns], "y": list(range(rows)),
        "z": grid(lambda m: index[m.band], None), "text": grid(_label, ""), "customdata": grid(lambda m: m.hover, ""),
        "texttemplate": "%{text}", "textfont": {"size": 9}, "hovertemplate": "%{customdata}<extra></extra>",
        "hoverongaps": False, "xgap": 3, "ygap": 3, **settings,
    }
    width = min(COLUMN_PX * len(columns) + LEGEND_PX, MAX_WIDTH)
    layout = {
        "title": {"text": f"{html.escape(title)}<br><sup>{html.escape(MARKS_NOTE)}</sup>", "x": 0.01},
        "template": _template(), "width": width, "height": ROW_PX * rows + HEADER_PX,
        "margin": {"l": 10, "r": 10, "t": 120, "b": 10}, "plot_bgcolor": "#ffffff",
        "hoverlabel": {"align": "left", "font": {"size": 11}},
        "xaxis": {"side": "top", "tickangle": 0, "tickfont": {"size": 10}, "showgrid": False, "type": "category"},
        "yaxis": {"visible": False, "autorange": "reversed", "showgrid": False},
    }
    # Built as plain plotly JSON, not validated: plotly's validation of seven 600-cell grids cost more than the rest
    # of the heatmaps together; tests/test_outputs_heatmap.py checks that validating it changes nothing.
    return {"data": [trace], "layout": layout}


@functools.cache
def _template() -> dict[str, Any]:
    """The "plotly_white" template as plotly.js reads it (validation would have expanded the name so)."""
    import plotly.io as pio

    template: dict[str, Any] = pio.templates["plotly_white"].to_plotly_json()
    return template


# ----- files ---------------------------------------------------------------------------------------
_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:16px;background:#fff}}
h1{{font-size:20px}} h2{{font-size:16px}}</style>
<script type="text/javascript">{plotlyjs}</script></head>
<body><h1>{title}</h1>
{sections}
</body></html>
"""


def render_html(figures: Sequence[tuple[str, Drawn]], *, title: str) -> str:
    """One self-contained page: plotly.js inline once, then each figure under its heading; no network."""
    import plotly.io as pio

    sections = []
    for i, (heading, fig) in enumerate(figures):
        div = pio.to_html(fig, validate=False, full_html=False, include_plotlyjs=False, config=PLOTLY_CONFIG,
                          div_id=f"figure-{i}")
        sections.append(f'<section><h2>{html.escape(heading)}</h2>\n{div}\n</section>')
    return _PAGE.format(title=html.escape(title), plotlyjs=get_plotlyjs(), sections="\n".join(sections))


def write_html(path: str | Path, figures: Sequence[tuple[str, Drawn]], *, title: str) -> Path:
    path = Path(path)
    atomic_write_text(path, render_html(figures, title=title))
    return path


def write_png(figure: Drawn, path: str | Path, *, scale: float = 1.0) -> Path:
    """A PNG of one figure: rendered as a self-contained HTML page (plotly.js inlined) and screenshotted by the
    system headless Chromium with networking off (:mod:`detcov.outputs.chromium`). kaleido is not used: it launches
    Chromium with its own flags, outside detcov's offline guarantee."""
    chromium.require_chromium()
    return _png_by_screenshot(figure, Path(path), scale)


def _png_by_screenshot(figure: Drawn, path: Path, scale: float = 1.0) -> Path:
    layout = figure.get("layout", {}) if isinstance(figure, dict) else figure.layout.to_plotly_json()
    width = int(layout.get("width") or 1600) + 40
    height = int(layout.get("height") or 1000) + 120
    with tempfile.TemporaryDirectory(prefix="detcov-png-") as tmp:
        page = write_html(Path(tmp) / "figure.html", [("", figure)], title="")
        return chromium.screenshot(page, path, width, height, scale=scale)
