"""Write every output of a scan into one folder (the contract the history store and the report read).

OUT/summary.json, OUT/tables/{techniques,rules,devices,gaps,recommendations}.{csv,parquet}, OUT/coverage.xlsx,
OUT/layers/<view>.json (ATT&CK Navigator 4.5), OUT/heatmaps.html (+ OUT/heatmaps/<view>.png with ``png=True``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import orjson

from detcov.coverage.engine import ScanResult
from detcov.coverage.kpis import all_tables
from detcov.coverage.summary import ROLLUP_RULE, Summary
from detcov.errors import DetcovError, Issue
from detcov.fileio import atomic_write, staged_folder
from detcov.outputs.colors import profile_detection_color, visibility_detection_color
from detcov.outputs.excel import write_tables, write_workbook
from detcov.outputs.heatmap import matrix_figure, write_html, write_png
from detcov.outputs.navigator import TechniqueCell, View, build_layer, validate_layer, write_layer

VIEW_TITLES = {
    View.VISIBILITY: "Visibility (0–4): can the SOC see it?",
    View.DETECTION: "Detection (−1..5): does a healthy SIEM rule fire?",
    View.PREVENTION: "Blocking (0–3): does an enabled control block it?",
    View.PROFILE: "Threat profile: how much the financial APT groups use it",
    View.VISIBILITY_DETECTION: "Visibility × detection",
    View.PROFILE_DETECTION: "Threat profile × detection",
    View.GAPS: "Gaps: priority = threat weight × gap severity",
}
SCORE_COLUMNS = {"visibility": (0.0, 4.0), "detection": (-1.0, 5.0), "prevention": (0.0, 3.0)}


def _meta(*pairs: tuple[str, object]) -> tuple[tuple[str, str], ...]:
    return tuple((k, str(v)) for k, v in pairs if v not in (None, ""))


def _shown(value: float | None) -> str:
    """A score in a tooltip: the number, or "none" (never Python's ``None``)."""
    return "none" if value is None else f"{value:g}"


def portable(text: str, base: Path) -> str:
    """Tooltips travel (a colleague's Navigator, a web server): paths under the config folder become relative
    to it, so no absolute local path (user names, mount points) leaks into a layer."""
    for root in {str(base), str(base.resolve())}:
        text = text.replace(root + os.sep, "")
    return text


def _portable_cells(cells: Mapping[str, TechniqueCell], base: Path) -> dict[str, TechniqueCell]:
    return {t: dataclasses.replace(c, comment=portable(c.comment, base),
                                   metadata=tuple((k, portable(v, base)) for k, v in c.metadata))
            for t, c in cells.items()}


def view_cells(result: ScanResult) -> dict[View, dict[str, TechniqueCell]]:
    """Per view, one cell per technique, with the explanation as comment and the facts as metadata."""
    weights = {t: w.weight for t, w in result.weights.items() if w.weight > 0}
    top = max(weights.values(), default=1.0)
    vis = {t: TechniqueCell(t, v.score, v.explanation, _meta(*((f"group {g}", s) for g, s in v.per_group.items())))
           for t, v in result.visibility.items()}
    det = {t: TechniqueCell(t, d.score, d.explanation, _meta(("rules", len(d.rules)), ("not counted", len(d.broken))))
           for t, d in result.detection.items()}
    prev = {t: TechniqueCell(t, p.score, p.explanation) for t, p in result.prevention.items() if p.score > 0}
    prof = {t: TechniqueCell(t, round(w, 3), f"used by {result.weights[t].count} group(s): "
                             + ", ".join(result.weights[t].groups[:12]), _meta(("weight", round(w, 2))))
            for t, w in weights.items()}

    def overlay(color: Callable[[str], str | None], text: Callable[[str], str]) -> dict[str, TechniqueCell]:
        return {t: TechniqueCell(t, None, text(t), color=c) for t in set(vis) | set(det) | set(weights)
                if (c := color(t)) is not None}

    def score(m: Mapping[str, TechniqueCell], t: str) -> float | None:
        return m[t].score if t in m else None

    vd = overlay(lambda t: visibility_detection_color(score(vis, t), score(det, t)),
                 lambda t: f"visibility {_shown(score(vis, t))}, detection {_shown(score(det, t))}")
    pd_ = overlay(lambda t: profile_detection_color(weights.get(t), score(det, t), top) if t in weights else None,
                  lambda t: f"threat weight {weights.get(t, 0):.2f}, detection {_shown(score(det, t))}")
    gaps = {g.technique: TechniqueCell(g.technique, g.priority, f"{g.gap.value}: {g.action}",
                                       _meta(("gap", g.gap.value), ("weight", round(g.weight, 2))))
            for g in result.gaps if g.priority > 0}
    views = {View.VISIBILITY: vis, View.DETECTION: det, View.PREVENTION: prev, View.PROFILE: prof,
             View.VISIBILITY_DETECTION: vd, View.PROFILE_DETECTION: pd_, View.GAPS: gaps}
    return {view: _portable_cells(c, result.base) for view, c in views.items()}


def write_layers(result: ScanResult, cells: Mapping[View, Mapping[str, TechniqueCell]], out: Path) -> list[Issue]:
    issues: list[Issue] = []
    name = result.config.name
    for view, view_cells_ in cells.items():
        layer = build_layer(result.kb, view, view_cells_, name=f"{name} — {view.value}",
                            description=f"{VIEW_TITLES[view]}. detcov scan; roll-up: {ROLLUP_RULE}")
        path = out / "layers" / f"{view.value}.json"
        issues += validate_layer(layer, result.kb, source=f"layers/{view.value}.json")
        write_layer(path, layer)
    return issues


def write_heatmaps(result: ScanResult, cells: Mapping[View, Mapping[str, TechniqueCell]], out: Path, *,
                   png: bool = False) -> Path:
    figures = [(VIEW_TITLES[v], matrix_figure(result.kb, c, v, title=VIEW_TITLES[v])) for v, c in cells.items()]
    path = write_html(out / "heatmaps.html", figures, title=f"{result.config.name} — ATT&CK coverage")
    if png:
        for (view, _), (_, fig) in zip(cells.items(), figures, strict=True):
            write_png(fig, out / "heatmaps" / f"{view.value}.png")
    return path


def write_summary(summary: Summary, out: Path) -> Path:
    path = out / "summary.json"
    atomic_write(path, orjson.dumps(summary.model_dump(mode="json"), option=orjson.OPT_INDENT_2))
    return path


def write_scan_outputs(result: ScanResult, out: Path, *, png: bool = False) -> Summary:
    """Everything into ``out``, as one set: written into a staging folder first and moved into place only when
    complete (:func:`detcov.fileio.staged_folder`), so a full disk leaves the previous outputs untouched. Layer
    validation problems are errors (a layer Navigator would reject)."""
    with staged_folder(out) as stage:
        tables = all_tables(result)
        write_tables(stage / "tables", tables)
        write_workbook(stage / "coverage.xlsx", tables, score_columns=SCORE_COLUMNS)
        cells = view_cells(result)
        problems = [i for i in write_layers(result, cells, stage) if i.severity.value == "error"]
        if problems:
            raise DetcovError(issues=problems)
        write_heatmaps(result, cells, stage, png=png)
        summary = result.summary
        write_summary(summary, stage)
    return summary
