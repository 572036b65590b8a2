"""ATT&CK-matrix heatmaps with plotly: one figure per view, self-contained HTML and PNG.

Layout (ECOSYSTEM.md §4): one ``go.Heatmap``; columns are the tactics in the bundle's matrix order; each
column lists that tactic's parent techniques, best score first, then by name; empty rows stay blank like
Navigator. Sub-techniques are folded into their parent's cell: the hover lists each with its score, and a
parent without a cell of its own takes its best sub-technique's score (the hover says so). That keeps the
matrix one screen high (~45 rows instead of ~170) and matches how a SOC reads Navigator with sub-techniques
collapsed.

Colours: discrete views (visibility, detection, prevention) and overlays use one colour band per legend
entry; continuous views (profile, gaps) use the view gradient. A grey band means "no data / not applicable".
"""

from __future__ import annotations

import html
import math
import tempfile
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from detcov.attack import AttackKB
from detcov.attack.model import Tactic, Technique
from detcov.errors import DetcovError
from detcov.fileio import atomic_write_text
from detcov.outputs import chromium
from detcov.outputs.colors import NO_DATA_GREY, ViewScale, gradient_color
from detcov.outputs.navigator import TechniqueCell, View, cell_color, legend, view_scale

NO_DATA_LABEL = "No data / not applicable"
ROW_PX = 34
COLUMN_PX = 132
HEADER_PX = 150
PLOTLY_CONFIG = {"displayModeBar": False, "responsive": False}


@dataclass(frozen=True, slots=True)
class MatrixCell:
    """One drawn cell: a parent technique under one tactic, with its effective score and colour."""

    technique: Technique
    score: float | None
    color: str | None  # None = no data (grey)
    hover: str
    rolled_up: bool
    explicit: bool  # the colour came from the cell (overlays), not from the view's scale


# ----- which techniques, in which order ------------------------------------------------------------
def _on_platforms(tech: Technique, platforms: Sequence[str] | None) -> bool:
    return not platforms or bool(set(tech.platforms) & set(platforms))


def _effective(kb: AttackKB, tech: Technique, cells: Mapping[str, TechniqueCell]
               ) -> tuple[TechniqueCell | None, bool]:
    """The parent's own cell, else its best-scored sub-technique cell (``rolled_up`` = True)."""
    own = cells.get(tech.id)
    if own is not None and (own.score is not None or own.color):
        return own, False
    subs = [c for s in kb.subtechniques(tech.id) if (c := cells.get(s.id)) and c.score is not None]
    if subs:
        return max(subs, key=lambda c: c.score or 0.0), True
    return own, False


def _wrap(text: str, width: int = 90) -> str:
    return "<br>".join(html.escape(line) for line in textwrap.wrap(text, width)) if text else ""


def _sub_lines(kb: AttackKB, tech: Technique, cells: Mapping[str, TechniqueCell]) -> list[str]:
    lines = []
    for sub in sorted(kb.subtechniques(tech.id), key=lambda s: s.id):
        cell = cells.get(sub.id)
        score = "no data" if cell is None or cell.score is None else f"{cell.score:g}"
        lines.append(f"&nbsp;&nbsp;{sub.id} {html.escape(sub.name)}: {score}")
    return lines


def hover_text(kb: AttackKB, tech: Technique, tactic: Tactic, cell: TechniqueCell | None, rolled_up: bool,
               cells: Mapping[str, TechniqueCell]) -> str:
    """The hover of one matrix cell: id, name, tactic, score, the cell's comment, metadata, sub-techniques."""
    score = "no data / not applicable" if cell is None or cell.score is None else f"{cell.score:g}"
    lines = [f"<b>{tech.id} {html.escape(tech.name)}</b>", f"Tactic: {html.escape(tactic.name)}",
             f"Score: {score}" + (f" (best sub-technique {cell.technique})" if rolled_up and cell else "")]
    if cell is not None:
        if cell.comment:
            lines.append(_wrap(cell.comment))
        lines.extend(f"{html.escape(n)}: {_wrap(v)}" for n, v in cell.metadata)
    subs = _sub_lines(kb, tech, cells)
    if subs:
        lines.append("Sub-techniques:")
        lines.extend(subs)
    return "<br>".join(lines)


def matrix_columns(kb: AttackKB, cells: Mapping[str, TechniqueCell], scale: ViewScale, upper: int,
                   platforms: Sequence[str] | None = None) -> list[tuple[Tactic, list[MatrixCell]]]:
    """Per tactic (matrix order), its parent techniques as drawn cells, best score first then by name."""
    columns = []
    for tactic in kb.tactics:
        drawn = []
        for tech in kb.techniques_by_tactic(tactic.shortname):
            if tech.is_subtechnique or not _on_platforms(tech, platforms):
                continue
            cell, rolled = _effective(kb, tech, cells)
            color = cell_color(cell, scale, upper) if cell is not None else None
            if color is None and cell is not None and cell.score is not None:
                color = scale.color(cell.score, upper)
            drawn.append(MatrixCell(tech, cell.score if cell else None, color,
                                    hover_text(kb, tech, tactic, cell, rolled, cells), rolled,
                                    bool(cell and cell.color)))
        drawn.sort(key=lambda m: (-(m.score if m.score is not None else -math.inf), m.technique.name))
        columns.append((tactic, drawn))
    return columns


# ----- colours -------------------------------------------------------------------------------------
def _categories(view: View, scale: ViewScale, used: Iterable[str]) -> list[tuple[str, str]]:
    """(label, colour) bands: grey first, then the legend, then any other colour a cell uses (unlabelled)."""
    bands: dict[str, str] = {NO_DATA_GREY: NO_DATA_LABEL}
    for label, color in legend(view, scale):
        bands.setdefault(color.lower(), label)
    for color in used:
        bands.setdefault(color.lower(), "")
    return [(label, color) for color, label in bands.items()]


def _band_scale(colors: Sequence[str]) -> list[list[Any]]:
    n = len(colors)
    out: list[list[Any]] = []
    for k, color in enumerate(colors):
        out += [[k / n, color], [(k + 1) / n, color]]
    return out


def _gradient_scale(scale: ViewScale) -> list[list[Any]]:
    """Grey for the lowest sixth (the no-data value), then the view gradient."""
    grey_top = 1 / 6
    steps = [[0.0, NO_DATA_GREY], [grey_top, NO_DATA_GREY]]
    for i in range(11):
        frac = i / 10
        steps.append([grey_top + (1 - grey_top) * frac, gradient_color(scale.gradient, frac)])
    steps[2][0] = grey_top + 1e-9
    return steps


def _trace_colors(view: View, scale: ViewScale, columns: list[tuple[Tactic, list[MatrixCell]]], upper: int
                  ) -> tuple[dict[str, Any], Any]:
    """Heatmap colour settings and a function giving a cell's z value."""
    if scale.discrete or view.is_overlay or any(m.explicit for _, col in columns for m in col):
        bands = _categories(view, scale, (m.color for _, col in columns for m in col if m.color))
        index = {color: i for i, (_, color) in enumerate(bands)}
        ticks = [(i, label) for i, (label, _) in enumerate(bands) if label]
        settings = {"colorscale": _band_scale([c for _, c in bands]), "zmin": -0.5, "zmax": len(bands) - 0.5,
                    "colorbar": {"tickvals": [t for t, _ in ticks], "ticktext": [lbl for _, lbl in ticks],
                                 "thickness": 14, "len": 0.9}}
        return settings, lambda m: index[(m.color or NO_DATA_GREY).lower()]
    span = max(upper - scale.minimum, 1)
    zmin = scale.minimum - span / 5  # grey band = lowest sixth of [zmin, upper]
    settings = {"colorscale": _gradient_scale(scale), "zmin": zmin, "zmax": upper,
                "colorbar": {"tickvals": [scale.minimum, upper], "thickness": 14, "len": 0.9,
                             "ticktext": [scale.low_label, scale.high_label]}}
    return settings, lambda m: zmin if m.score is None else m.score


def _label(tech: Technique, width: int = 18) -> str:
    name = tech.name if len(tech.name) <= width else tech.name[: width - 1] + "…"
    return f"<b>{tech.id}</b><br>{html.escape(name)}"


def matrix_figure(kb: AttackKB, cells: Mapping[str, TechniqueCell], view: View | str, *, title: str,
                  platforms: Sequence[str] | None = None, scale: ViewScale | None = None) -> go.Figure:
    """The ATT&CK-matrix heatmap of one view (see the module docstring for the layout rules)."""
    view = View(view)
    scale = scale or view_scale(view)
    upper = scale.upper(c.score for c in cells.values())
    columns = [(t, col) for t, col in matrix_columns(kb, cells, scale, upper, platforms) if col]
    if not columns:
        raise DetcovError(f"no ATT&CK techniques on platforms {', '.join(platforms or [])}",
                          hint=f"use platforms of this ATT&CK version: {', '.join(kb.platforms)}")
    settings, z_of = _trace_colors(view, scale, columns, upper)
    rows = max(len(col) for _, col in columns)

    def grid(value: Any, empty: Any) -> list[list[Any]]:
        return [[value(col[r]) if r < len(col) else empty for _, col in columns] for r in range(rows)]

    trace = go.Heatmap(
        x=[t.name for t, _ in columns], y=list(range(rows)), z=grid(z_of, None),
        text=grid(lambda m: _label(m.technique), ""), customdata=grid(lambda m: m.hover, ""),
        texttemplate="%{text}", textfont={"size": 9}, hovertemplate="%{customdata}<extra></extra>",
        hoverongaps=False, xgap=3, ygap=3, **settings,
    )
    fig = go.Figure(trace)
    fig.update_layout(
        title={"text": html.escape(title), "x": 0.01}, template="plotly_white",
        width=COLUMN_PX * len(columns) + 260, height=ROW_PX * rows + HEADER_PX,
        margin={"l": 10, "r": 10, "t": 100, "b": 10}, plot_bgcolor="#ffffff",
        hoverlabel={"align": "left", "font": {"size": 11}},
    )
    fig.update_xaxes(side="top", tickangle=0, tickfont={"size": 10}, showgrid=False, type="category")
    fig.update_yaxes(visible=False, autorange="reversed", showgrid=False)
    return fig


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


def render_html(figures: Sequence[tuple[str, go.Figure]], *, title: str) -> str:
    """One self-contained page: plotly.js inline once, then each figure under its heading; no network."""
    sections = []
    for i, (heading, fig) in enumerate(figures):
        div = fig.to_html(full_html=False, include_plotlyjs=False, config=PLOTLY_CONFIG, div_id=f"figure-{i}")
        sections.append(f'<section><h2>{html.escape(heading)}</h2>\n{div}\n</section>')
    return _PAGE.format(title=html.escape(title), plotlyjs=get_plotlyjs(), sections="\n".join(sections))


def write_html(path: str | Path, figures: Sequence[tuple[str, go.Figure]], *, title: str) -> Path:
    path = Path(path)
    atomic_write_text(path, render_html(figures, title=title))
    return path


def write_png(figure: go.Figure, path: str | Path, *, scale: float = 1.0) -> Path:
    """A PNG of one figure: rendered as a self-contained HTML page (plotly.js inlined) and screenshotted by the
    system headless Chromium with networking off (:mod:`detcov.outputs.chromium`). kaleido is not used: it launches
    Chromium with its own flags, outside detcov's offline guarantee."""
    chromium.require_chromium()
    return _png_by_screenshot(figure, Path(path), scale)


def _png_by_screenshot(figure: go.Figure, path: Path, scale: float = 1.0) -> Path:
    width = int(figure.layout.width or 1600) + 40
    height = int(figure.layout.height or 1000) + 120
    with tempfile.TemporaryDirectory(prefix="detcov-png-") as tmp:
        page = write_html(Path(tmp) / "figure.html", [("", figure)], title="")
        return chromium.screenshot(page, path, width, height, scale=scale)
