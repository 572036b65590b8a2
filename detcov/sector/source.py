"""A scan's result → :class:`MemberCoverage`, the only input of a share (rule text, paths and hosts stay behind).

It reads the scoring core's per-group cells (``ScanResult.cells``, keyed (technique, group)) when the scan has
them; a scan from before the scope model has per-group visibility only, so there detection and blocking are the
technique's own scores in every group its rules / devices apply to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from detcov.apt_profiles import load_profile
from detcov.attack import AttackKB
from detcov.rules import RuleHealth
from detcov.sector.model import KPIS, Group, MemberCell, MemberCoverage

FINANCIAL_PROFILE = "financial-sector"


def groups_of(result: Any) -> list[Group]:
    """The inventory's system groups with their kind, criticality and hosts (defaults before the scope model)."""
    return [Group(g.applicable_to, str(getattr(g, "kind", None) or "other"), _criticality(g), g.hosts)
            for g in result.inventory.system_groups]


def _criticality(group: Any) -> int:
    """The group's criticality 1..5: the scope model's ``level`` (its default when unstated), else 3."""
    return int(getattr(group, "level", None) or getattr(group, "criticality", None) or 3)


def _applies(health: RuleHealth, group: str) -> bool:
    """Is the rule healthy in this group? Per-group health when the core gives it, else rule-wide."""
    per_group = getattr(health, "groups", None)
    if per_group:
        return any(g.group == group and str(getattr(g.outcome, "value", g.outcome)) == "healthy" for g in per_group)
    targets = health.rule.applicable_to
    return health.healthy and (not targets or group in targets or "all" in targets)


def rules_by_cell(healths: Iterable[RuleHealth], groups: Iterable[str]) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(technique, group) → (rule family, rule id) of each rule healthy there (ids never leave the process)."""
    names = list(groups)
    out: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for health in healths:
        family = health.rule.format.family
        for group in names:
            if _applies(health, group):
                for tid in health.rule.technique_ids:
                    out[(tid, group)].append((family, health.rule.id))
    return out


def _evidence(value: Any) -> str:
    text = str(getattr(value, "value", value) or "none")
    return text if text in ("none", "claimed", "proven", "disproved") else "none"


def _cells_from_core(result: Any, rules: Mapping[tuple[str, str], list[tuple[str, str]]]) -> list[MemberCell]:
    out = []
    for (tid, group), cell in result.cells.items():
        evidence = _evidence(cell.detection_evidence)
        if evidence == "none":
            evidence = _evidence(getattr(cell, "blocking_evidence", "none"))
        out.append(MemberCell(tid, group, cell.visibility, cell.detection, cell.blocking, evidence,
                              tuple(rules.get((tid, group), ())), bool(cell.applicable), bool(cell.observable)))
    return out


def _legacy_evidence(result: Any, tid: str, detection: int) -> str:
    val = result.validation.get(tid)
    if val is not None and val.contradictions:
        return "disproved"
    if val is not None and (val.detected or val.blocked):
        return "proven"
    return "claimed" if detection >= 1 else "none"


def _cells_legacy(result: Any, kb: AttackKB, rules: Mapping[tuple[str, str], list[tuple[str, str]]]
                  ) -> list[MemberCell]:
    out = []
    for vs in result.visibility_scores:
        tid = vs.technique
        det = result.detection.get(tid)
        prev = result.prevention.get(tid)
        detection = det.score if det else -1
        observable = any(kb.detection_refs(tid, p) for p in vs.platforms)
        out.append(MemberCell(tid, vs.system_group, vs.score, detection, prev.score if prev else 0,
                              _legacy_evidence(result, tid, detection), tuple(rules.get((tid, vs.system_group), ())),
                              True, observable))
    return out


def financial_weights(kb: AttackKB) -> dict[str, float]:
    """The shipped financial-sector profile's weights: the same yardstick for every member (never the member's
    own profiles, whose custom actors are its threat intelligence)."""
    return {t: w.weight for t, w in load_profile(FINANCIAL_PROFILE, kb).weights(kb).items() if w.weight > 0}


def member_coverage(result: Any) -> MemberCoverage:
    """What a share is made of, from one scan."""
    groups = groups_of(result)
    rules = rules_by_cell(result.healths, [g.name for g in groups])
    cells = _cells_from_core(result, rules) if getattr(result, "cells", None) else _cells_legacy(result, result.kb,
                                                                                                  rules)
    kpis = {k: float(getattr(result.summary.kpis, k).percent) for k in KPIS}
    return MemberCoverage(result.kb.version or "", groups, cells, financial_weights(result.kb), kpis)
