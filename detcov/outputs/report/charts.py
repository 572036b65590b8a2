"""The report's plotly figures: KPI trends, per-tactic bars and the ATT&CK-matrix heatmaps (labels localised,
third-party text escaped; plotly's JSON escapes ``<`` so nothing can close the script tag)."""

from __future__ import annotations

import html

import plotly.graph_objects as go

from detcov.attack import AttackKB
from detcov.outputs.heatmap import matrix_figure
from detcov.outputs.history.history import kb_for_comparison
from detcov.outputs.history.store import KPI_NAMES
from detcov.outputs.navigator import TechniqueCell, View
from detcov.outputs.report.i18n import Catalogue
from detcov.outputs.report.model import ReportData
from detcov.outputs.report.tables import tactic_name

KPI_COLORS = {"visibility": "#1976d2", "detection": "#689f38", "blocking": "#00796b", "validated": "#ff8f00"}
HEATMAP_VIEWS = (("visibility", View.VISIBILITY), ("detection", View.DETECTION), ("prevention", View.PREVENTION))


def _layout(fig: go.Figure, title: str, height: int, left: int = 50) -> go.Figure:
    """Title top left, the legend in its own band under the title (it never covers a label or a bar)."""
    fig.update_layout(title={"text": html.escape(title), "x": 0.01, "y": 0.98, "yanchor": "top"},
                      template="plotly_white", height=height, width=700,
                      margin={"l": left, "r": 30, "t": 90, "b": 40},
                      legend={"orientation": "h", "x": 0, "y": 1.02, "xanchor": "left", "yanchor": "bottom"},
                      font={"family": "Noto Sans CJK TC, Noto Sans TC, Microsoft JhengHei, Arial, sans-serif",
                            "size": 13})
    return fig


def trend_figure(data: ReportData, t: Catalogue) -> go.Figure:
    quarters = [html.escape(t.quarter(q)) for q, _ in data.trend]
    fig = go.Figure()
    for kpi in KPI_NAMES:
        values = [getattr(s.kpis, kpi).weighted_percent for _, s in data.trend]
        fig.add_trace(go.Scatter(x=quarters, y=values, name=html.escape(t(f"kpi.{kpi}")), mode="lines+markers",
                                 line={"color": KPI_COLORS[kpi], "width": 3}))
    fig.update_yaxes(range=[0, 100], ticksuffix="%")
    fig.update_xaxes(type="category")
    return _layout(fig, t("chart.trend"), 360)


def tactic_figure(data: ReportData, t: Catalogue) -> go.Figure:
    """Horizontal bars, one row per tactic (labels read left to right, nothing rotated or covered)."""
    tactics = list(reversed(data.summary.per_tactic))  # first tactic at the top
    names = [html.escape(tactic_name(t, k.tactic, k.name)) for k in tactics]
    fig = go.Figure()
    for kpi in ("visibility", "detection", "blocking"):
        fig.add_trace(go.Bar(y=names, x=[getattr(k, kpi) for k in tactics], name=html.escape(t(f"kpi.{kpi}")),
                             marker_color=KPI_COLORS[kpi], orientation="h"))
    fig.update_xaxes(range=[0, 100], ticksuffix="%")
    fig.update_yaxes(automargin=True)
    fig.update_layout(barmode="group", bargap=0.25)
    return _layout(fig, t("chart.tactics"), 110 + 30 * len(tactics), left=200)


def heatmap_cells(data: ReportData, kb: AttackKB, view: str) -> dict[str, TechniqueCell]:
    """Per technique (as ``kb`` names it), the view's score and its explanation."""
    mapper = kb_for_comparison(data.snapshot.attack_version, kb.version, kb)
    cells = {}
    for row in data.snapshot.techniques:
        tid = (mapper.resolve(row.technique).current if mapper else None) or row.technique
        comment = getattr(row, f"{view}_explanation")
        cells[tid] = TechniqueCell(tid, float(getattr(row, view)), comment=comment)
    return cells


def heatmap_figures(data: ReportData, kb: AttackKB, t: Catalogue) -> list[tuple[str, go.Figure]]:
    return [(t(f"heatmap.{name}"), matrix_figure(kb, heatmap_cells(data, kb, name), view,
                                                 title=f"{t(f'heatmap.{name}')} — {data.quarter}"))
            for name, view in HEATMAP_VIEWS]
