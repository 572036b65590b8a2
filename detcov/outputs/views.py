"""The cells of every coverage view, built from a scan: one cell per active technique, each with its score or
its state (not applicable / out of scope) and an explanation. Layers and heatmaps draw these cells.

States, decided once here for every view:

* **not applicable**: ATT&CK names no telemetry for the technique on any platform the institution runs (PRE
  techniques, platforms it has not got). Drawn grey, disabled in Navigator.
* **out of scope**: not used by the threat profile's groups *and* nothing covers it (visibility 0, no rule, no
  blocking). A covered technique outside the profile keeps its score: coverage is coverage.
* in the profile with nothing: the view's "none" level (visibility 0, detection −1 "no rule", blocking 0) or, in
  the combined views, "neither" — a gap, pale red, never white or grey.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from detcov.attack.model import Technique
from detcov.coverage.engine import ScanResult
from detcov.coverage.gaps import Gap
from detcov.outputs import colors
from detcov.outputs.names import names_list
from detcov.outputs.navigator import TechniqueCell, View
from detcov.outputs.portable import PathNamer, scan_namer

VIEW_TITLES = {
    View.VISIBILITY: "Visibility (0–4): can the SOC see it?",
    View.DETECTION: "Detection (−1..5): does a healthy SIEM rule fire?",
    View.BLOCKING: "Blocking (0–3): does an enabled control block it?",
    View.PROFILE: "Threat profile: how much the financial APT groups use it",
    View.VISIBILITY_DETECTION: "Visibility × detection",
    View.PROFILE_DETECTION: "Threat profile × detection",
    View.GAPS: "Gaps: priority = threat weight × gap severity",
}
def _meta(*pairs: tuple[str, object]) -> tuple[tuple[str, str], ...]:
    return tuple((k, str(v)) for k, v in pairs if v not in (None, ""))


def _portable_cells(cells: Mapping[str, TechniqueCell], namer: PathNamer) -> dict[str, TechniqueCell]:
    """Tooltips travel (a colleague's Navigator, a web server): input files named as :mod:`detcov.outputs.portable`
    says, never by an absolute local path."""
    return {t: dataclasses.replace(c, comment=namer.text(c.comment),
                                   metadata=tuple((k, namer.text(v)) for k, v in c.metadata))
            for t, c in cells.items()}


@dataclass(frozen=True)
class Facts:
    """What every view reads from a scan, per technique."""

    result: ScanResult
    weights: Mapping[str, float]
    applicable: frozenset[str]
    group_names: Mapping[str, str]
    gaps: Mapping[str, Gap]

    @property
    def top_weight(self) -> float:
        return max(self.weights.values(), default=1.0)

    def visibility(self, tid: str) -> int:
        v = self.result.visibility.get(tid)
        return v.score if v else 0

    def detection(self, tid: str) -> int:
        d = self.result.detection.get(tid)
        return d.score if d else -1

    def blocking(self, tid: str) -> int:
        p = self.result.prevention.get(tid)
        return p.score if p else 0

    def groups_text(self, tid: str) -> str:
        w = self.result.weights.get(tid)
        if w is None or not w.groups:
            return "used by no group of the threat profile"
        named = [f"{g} {self.group_names[g]}" if self.group_names.get(g, g) != g else g for g in w.groups]
        return f"used by {w.count} group{'s' if w.count != 1 else ''}: {names_list(named)}"


def scan_cells(result: ScanResult) -> Mapping[tuple[str, str], Any]:
    """The scan's (technique, system group) cells (the scope model's ``ScanResult.cells``; empty before it)."""
    cells: Mapping[tuple[str, str], Any] = getattr(result, "cells", None) or {}
    return cells


def group_rows(result: ScanResult, tid: str) -> tuple[tuple[str, str], ...]:
    """One metadata row per system group where the technique applies (scores, evidence, gap class), and one
    row naming the groups where it does not (hover, layer metadata)."""
    cells = scan_cells(result)
    rows, not_applicable = [], []
    for group in result.inventory.system_groups:
        c = cells.get((tid, group.applicable_to))
        if c is None:
            continue
        if not c.applicable:
            not_applicable.append(group.applicable_to)
            continue
        rows.append((f"{group.applicable_to} (crit. {c.criticality})",
                     f"vis {c.visibility}, det {c.detection} ({c.detection_evidence.value}), block {c.blocking}; "
                     f"{c.gap.value}" + (f", priority {c.priority:g}" if c.priority else "")))
    if not_applicable:
        rows.append(("not applicable in", names_list(not_applicable)))
    return tuple(rows)


def estate_platforms(result: ScanResult) -> frozenset[str]:
    return frozenset(result.telemetry.platforms) | {p for g in result.inventory.system_groups for p in g.platforms}


def is_applicable(result: ScanResult, tech: Technique, platforms: frozenset[str]) -> bool:
    """ATT&CK names telemetry for it on a platform the institution runs (v18 analytics, v17 components)."""
    return any(result.kb.detection_refs(tech.id, p) for p in tech.platforms if p in platforms)


def facts(result: ScanResult) -> Facts:
    platforms = estate_platforms(result)
    applicable = frozenset(t.id for t in result.kb.techniques() if is_applicable(result, t, platforms))
    names = {g.key: g.name for p in result.profiles for g in p.groups}
    return Facts(result, {t: w.weight for t, w in result.weights.items() if w.weight > 0}, applicable, names,
                 {g.technique: g for g in result.gaps})


def _state(f: Facts, tid: str, covered: bool, text: str) -> TechniqueCell | None:
    """The not-applicable / out-of-scope cell of a technique, or None when it is scored."""
    if tid not in f.applicable and not covered:
        return TechniqueCell(tid, None, f"not applicable: {colors.NOT_APPLICABLE.meaning}. {text}".strip(),
                             band=colors.NOT_APPLICABLE, enabled=False)
    if tid not in f.weights and not covered:
        return TechniqueCell(tid, None, f"out of scope: {colors.OUT_OF_SCOPE.meaning}. {text}".strip(),
                             band=colors.OUT_OF_SCOPE)
    return None


Build = Callable[[Facts, Technique], TechniqueCell]


def _visibility(f: Facts, tech: Technique) -> TechniqueCell:
    v = f.result.visibility.get(tech.id)
    text = v.explanation if v else "no system group runs its platforms"
    meta = group_rows(f.result, tech.id) or (_meta(*((f"group {g}", s) for g, s in v.per_group.items())) if v else ())
    return _state(f, tech.id, f.visibility(tech.id) > 0, text) or TechniqueCell(
        tech.id, f.visibility(tech.id), text, meta)


def _detection(f: Facts, tech: Technique) -> TechniqueCell:
    d = f.result.detection.get(tech.id)
    text = d.explanation if d else "no rule is tagged with it"
    meta = (_meta(("rules", len(d.rules)), ("not counted", len(d.broken))) if d else ()) + group_rows(f.result, tech.id)
    return _state(f, tech.id, f.detection(tech.id) >= 0 or bool(d and d.broken), text) or TechniqueCell(
        tech.id, f.detection(tech.id), text, meta)


def _blocking(f: Facts, tech: Technique) -> TechniqueCell:
    p = f.result.prevention.get(tech.id)
    text = p.explanation if p else "no enabled blocking control mitigates it"
    return _state(f, tech.id, f.blocking(tech.id) > 0, text) or TechniqueCell(tech.id, f.blocking(tech.id), text,
                                                                             group_rows(f.result, tech.id))


def _profile(f: Facts, tech: Technique) -> TechniqueCell:
    w = f.weights.get(tech.id)
    if w is None:
        return TechniqueCell(tech.id, None, f"out of scope: {f.groups_text(tech.id)}", band=colors.OUT_OF_SCOPE)
    return TechniqueCell(tech.id, round(w, 3), f.groups_text(tech.id), _meta(("weight", round(w, 2))))


def _gaps(f: Facts, tech: Technique) -> TechniqueCell:
    gap = f.gaps.get(tech.id) if tech.id in f.weights else None
    if gap is None:
        return TechniqueCell(tech.id, None, "out of scope: not in the threat profile", band=colors.OUT_OF_SCOPE)
    text = f"{gap.gap.value}: {gap.action}"
    if gap.gap.value == "not-observable":
        return TechniqueCell(tech.id, None, text, band=colors.NOT_APPLICABLE, enabled=False)
    return TechniqueCell(tech.id, gap.priority, text, _meta(("gap", gap.gap.value), ("weight", round(gap.weight, 2)))
                         + group_rows(f.result, tech.id))


def _vis_det(f: Facts, tech: Technique) -> TechniqueCell:
    v, d = f.visibility(tech.id), f.detection(tech.id)
    text = f"visibility {v}, detection {d}"
    band = colors.visibility_detection_band(v, d)
    if band is None:
        return _state(f, tech.id, False, text) or TechniqueCell(tech.id, None, text, band=colors.NEITHER)
    return TechniqueCell(tech.id, None, f"{band.meaning} ({text})", band=band)


def _prof_det(f: Facts, tech: Technique) -> TechniqueCell:
    w, d = f.weights.get(tech.id), f.detection(tech.id)
    text = f"threat weight {w or 0:.2f}, detection {d}; {f.groups_text(tech.id)}"
    band = colors.profile_detection_band(w, d, f.top_weight)
    if band is None or (band in colors.UNDETECTED and tech.id not in f.applicable):
        return _state(f, tech.id, False, text) or TechniqueCell(tech.id, None, text, band=colors.OUT_OF_SCOPE)
    return TechniqueCell(tech.id, None, f"{band.meaning} ({text})", band=band)


BUILDERS: dict[View, Build] = {
    View.VISIBILITY: _visibility, View.DETECTION: _detection, View.BLOCKING: _blocking, View.PROFILE: _profile,
    View.VISIBILITY_DETECTION: _vis_det, View.PROFILE_DETECTION: _prof_det, View.GAPS: _gaps,
}


def view_cells(result: ScanResult) -> dict[View, dict[str, TechniqueCell]]:
    """Per view, one cell per active technique, with the explanation as comment and the facts as metadata."""
    f = facts(result)
    techniques = result.kb.techniques()
    namer = scan_namer(result.config, result.base)
    return {view: _portable_cells({t.id: build(f, t) for t in techniques}, namer)
            for view, build in BUILDERS.items()}


# ----- one system group's own layer (``detcov scan --group NAME``) ------------------------------------------
GROUP_VIEWS = (View.VISIBILITY, View.DETECTION, View.BLOCKING, View.GAPS)


def _group_cell(view: View, c: Any, weight: float | None) -> TechniqueCell:
    if not c.applicable:
        return TechniqueCell(c.technique, None, "not applicable in this group", band=colors.NOT_APPLICABLE,
                             enabled=False)
    score = {View.VISIBILITY: c.visibility, View.DETECTION: c.detection, View.BLOCKING: c.blocking,
             View.GAPS: c.priority}[view]
    text = {View.VISIBILITY: c.visibility_text, View.DETECTION: c.detection_text, View.BLOCKING: c.blocking_text,
            View.GAPS: f"{c.gap.value}: {c.explanation}"}[view]
    nothing = {View.VISIBILITY: c.visibility <= 0, View.DETECTION: c.detection < 0, View.BLOCKING: c.blocking <= 0,
               View.GAPS: True}[view]
    if weight is None and nothing:
        return TechniqueCell(c.technique, None, f"out of scope: {text}", band=colors.OUT_OF_SCOPE)
    meta = _meta(("criticality", c.criticality), ("detection evidence", c.detection_evidence.value),
                 ("blocking evidence", c.blocking_evidence.value), ("gap", c.gap.value))
    return TechniqueCell(c.technique, float(score), text, meta)


def group_cells(result: ScanResult, group: str) -> dict[View, dict[str, TechniqueCell]]:
    """Per view, the cells of one system group (empty before the scope model's cells exist)."""
    weights = {t: w.weight for t, w in result.weights.items() if w.weight > 0}
    mine = [c for (_, g), c in scan_cells(result).items() if g == group]
    namer = scan_namer(result.config, result.base)
    return {view: _portable_cells({c.technique: _group_cell(view, c, weights.get(c.technique)) for c in mine},
                                  namer) for view in GROUP_VIEWS}


def critical_groups(result: ScanResult, minimum: int = 4) -> list[str]:
    """The system groups with criticality ≥ ``minimum`` (as the cells record it)."""
    found = {g: c.criticality for (_, g), c in scan_cells(result).items()}
    return [g.applicable_to for g in result.inventory.system_groups if found.get(g.applicable_to, 0) >= minimum]

