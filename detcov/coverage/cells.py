"""Cells: one technique in one system group, with every score, its evidence, its gap and why.

:func:`build_cells` scores every in-scope technique in every group from :class:`ScoringInputs` (what the scan read
and judged); the engine (:mod:`detcov.coverage.engine`) reads the inputs and builds the result around the cells.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from detcov.apt_profiles import TechniqueWeight
from detcov.attack import AttackKB
from detcov.attack.model import Technique
from detcov.coverage.detection import DetectionScore, ManualScore, score_group
from detcov.coverage.gaps import GapClass, classify, priority, severity
from detcov.coverage.prevention import BlockCredit, PreventionScore, score_cell
from detcov.coverage.scope import Estate, Evidence
from detcov.coverage.validation import CellValidation, validation_text
from detcov.datasources.inventory import SystemGroup
from detcov.datasources.visibility import VisibilityScore
from detcov.rules import RuleHealth

DISPROVED_DETECTION_CAP = 1


@dataclass(frozen=True, slots=True)
class Cell:
    """One technique in one system group: every score, its evidence, its gap — and why."""

    technique: str
    group: str
    criticality: int
    applicable: bool
    observable: bool
    visibility: int
    detection: int
    blocking: int
    detection_evidence: Evidence
    blocking_evidence: Evidence
    gap: GapClass
    priority: float
    visibility_text: str
    detection_text: str
    blocking_text: str
    validation_text: str = ""

    @property
    def explanation(self) -> str:
        return " || ".join(t for t in (self.visibility_text, self.detection_text, self.blocking_text,
                                       self.validation_text) if t)



@dataclass(frozen=True)
class ScoringInputs:
    """Everything a cell is scored from, read once per scan (a what-if re-scores from the same inputs)."""


    kb: AttackKB
    estate: Estate
    weights: Mapping[str, TechniqueWeight]
    visibility: Mapping[tuple[str, str], VisibilityScore]
    rules: Mapping[str, list[RuleHealth]]
    derived: Mapping[str, list[RuleHealth]]
    manual: Mapping[str, ManualScore]
    blocking: Mapping[tuple[str, str], list[BlockCredit]]
    validation: Mapping[tuple[str, str], CellValidation]


def score_cell_of(inp: ScoringInputs, technique: Technique, group: SystemGroup
                  ) -> tuple[Cell, DetectionScore, PreventionScore]:
    tid, name = technique.id, group.applicable_to
    crit = group.level
    det = score_group(tid, name, inp.rules.get(tid, ()), inp.manual.get(tid), inp.derived.get(tid, ()))
    prev = score_cell(technique, name, inp.blocking.get((tid, name), ()))
    if not inp.estate.applicable(technique, group):
        reason = (f"{name}: not applicable ({tid} needs an internet-facing system)" if set(technique.platforms)
                  & set(group.platforms) else f"{name}: not applicable (runs on {', '.join(technique.platforms)})")
        cell = Cell(tid, name, crit, False, False, 0, -1, 0, Evidence.NONE, Evidence.NONE, GapClass.NOT_APPLICABLE,
                    0.0, reason, "", "")
        return cell, det, prev
    vs = inp.visibility.get((tid, name))
    observable = bool(vs and vs.applicable)
    v = vs.score if vs else 0
    vis_text = f"{name}: {vs.explain()}" if vs else f"{name}: no telemetry scored"
    m = inp.manual.get(tid)
    mv = m.visibility_in(name) if m else None
    if m is not None and mv is not None:
        vis_text = f"{name}: manual visibility {mv} ({m.date}, {m.location}) replaces {v}. {vis_text}"
        v = mv
    val = inp.validation.get((tid, name))
    d, b = det.score, prev.score
    det_ev = _evidence(d >= 1, val.detection if val else Evidence.NONE)
    blk_ev = _evidence(b >= 1, val.blocking if val else Evidence.NONE)
    det_text, blk_text = det.explanation, prev.explanation
    if det_ev is Evidence.DISPROVED and _newer_than_manual(val, m):
        d = min(d, DISPROVED_DETECTION_CAP)
        det_text += f" | capped at {DISPROVED_DETECTION_CAP}: disproved by the newest test"
    if blk_ev is Evidence.DISPROVED:
        b = 0
        blk_text += " | 0: disproved by the newest test"
    contradicted = Evidence.DISPROVED in (det_ev, blk_ev)
    proven = Evidence.PROVEN in (det_ev, blk_ev) or bool(val and (val.detected or val.blocked))
    gap = classify(v, d, bool(det.broken), proven, contradicted, observable=observable)
    w = inp.weights[tid].weight if tid in inp.weights else 0.0
    cell = Cell(tid, name, crit, True, observable, v, d, b, det_ev, blk_ev, gap, priority(w, gap, d, crit),
                vis_text, det_text, blk_text, validation_text(val) if val else "")
    return cell, replace(det, score=d, explanation=det_text), replace(prev, score=b, explanation=blk_text)


def _evidence(claimed: bool, tested: Evidence) -> Evidence:
    """A test outcome on top of the configuration's claim (a failed test with nothing claimed disproves nothing)."""
    if tested is Evidence.DISPROVED:
        return Evidence.DISPROVED if claimed else Evidence.NONE
    if tested is Evidence.PROVEN:
        return Evidence.PROVEN
    return Evidence.CLAIMED if claimed else Evidence.NONE


def _newer_than_manual(val: CellValidation | None, manual: ManualScore | None) -> bool:
    test = val.detection_test if val else None
    return manual is None or manual.detection is None or test is None or test.date >= manual.date


def deciding(cells: Sequence[Cell]) -> Cell:
    """The cell that speaks for the technique: highest priority, then higher criticality, then worse scores."""
    applicable = [c for c in cells if c.applicable] or list(cells)
    return max(applicable, key=lambda c: (c.priority, severity(c.gap, c.detection), c.criticality,
                                          -c.detection, -c.visibility, c.group))


def build_cells(inp: ScoringInputs, techniques: Sequence[Technique]) -> tuple[
        dict[tuple[str, str], Cell], dict[str, Cell], dict[str, DetectionScore], dict[str, PreventionScore]]:
    cells: dict[tuple[str, str], Cell] = {}
    head: dict[str, Cell] = {}
    detection: dict[str, DetectionScore] = {}
    prevention: dict[str, PreventionScore] = {}
    for t in techniques:
        row: list[tuple[Cell, DetectionScore, PreventionScore]] = [score_cell_of(inp, t, g) for g in inp.estate.groups]
        for cell, _, _ in row:
            cells[(t.id, cell.group)] = cell
        if not row:
            continue
        top = deciding([c for c, _, _ in row])
        head[t.id] = top
        _, det, prev = next(r for r in row if r[0] is top)
        if det.rules or det.broken or det.manual or t.id in inp.rules:
            detection[t.id] = det
        if prev.score or prev.credits:
            prevention[t.id] = prev
    return cells, head, detection, prevention
