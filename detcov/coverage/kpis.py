"""KPIs (``summary.json``) and the flat tables of a scan (techniques, cells, rules, devices, gaps, recommendations).

Coverage definitions (stated in ``summary.rollup_rule``): over the *cells* — (technique, system group) pairs of the
threat profile where the technique applies and ATT&CK names telemetry for it (observable) — a cell is covered when
its score meets the threshold (visibility >= 3, detection >= 2, blocking >= 1; validated = proven by a test).
``percent`` weights each cell by its group's criticality; ``weighted_percent`` by threat weight × criticality.
Not-observable and not-applicable techniques are counted apart, never in a denominator.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from operator import attrgetter
from typing import TYPE_CHECKING, TypeVar

import pandas as pd

from detcov import __version__
from detcov.coverage.gaps import GapClass
from detcov.coverage.scope import CRITICAL, Evidence
from detcov.coverage.summary import (
    ROLLUP_RULE,
    THRESHOLDS,
    AttackInfo,
    GapItem,
    GroupKpi,
    HardeningItem,
    Kpis,
    Ratio,
    Scope,
    Summary,
    SystemGroupKpi,
    TacticKpi,
    ValidationKpi,
)
from detcov.datasources.inventory import DQ_DIMENSIONS
from detcov.rules.health import GroupHealth, RuleHealth, healthy_groups, verdicts_text

if TYPE_CHECKING:
    from detcov.coverage.cells import Cell
    from detcov.coverage.engine import ScanResult
    from detcov.rules.model import LogSourceReq

Test = Callable[["Cell"], bool]
KPI_NAMES = ("visibility", "detection", "blocking", "validated")


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def tests() -> dict[str, Test]:
    """The threshold test of each KPI on one cell."""
    return {
        "visibility": lambda c: c.visibility >= THRESHOLDS["visibility"],
        "detection": lambda c: c.detection >= THRESHOLDS["detection"],
        "blocking": lambda c: c.blocking >= THRESHOLDS["blocking"],
        "validated": lambda c: Evidence.PROVEN in (c.detection_evidence, c.blocking_evidence),
    }


def measured_cells(result: ScanResult, techniques: Iterable[str] | None = None) -> list[Cell]:
    """The cells KPIs are computed over: in scope, applicable and observable."""
    wanted = set(result.in_scope if techniques is None else techniques)
    return [c for c in result.cells.values() if c.technique in wanted and c.applicable and c.observable]


def cell_ratio(cells: Sequence[Cell], weights: Mapping[str, float], test: Test) -> Ratio:
    hit = [c for c in cells if test(c)]
    crit = sum(c.criticality for c in cells)
    wcrit = sum(weights.get(c.technique, 0.0) * c.criticality for c in cells)
    return Ratio(covered=len(hit), total=len(cells), percent=_pct(sum(c.criticality for c in hit), crit),
                 weighted_percent=_pct(sum(weights.get(c.technique, 0.0) * c.criticality for c in hit), wcrit))


def _group_percent(cells: Sequence[Cell], test: Test) -> dict[str, float]:
    by: dict[str, list[Cell]] = {}
    for c in cells:
        by.setdefault(c.group, []).append(c)
    return {g: _pct(sum(1 for c in cs if test(c)), len(cs)) for g, cs in by.items()}


def headline(result: ScanResult, cells: Sequence[Cell], weights: Mapping[str, float], name: str, test: Test) -> Ratio:
    base = cell_ratio(cells, weights, test)
    per = _group_percent(cells, test)
    crit = {g.applicable_to: g.level for g in result.inventory.system_groups}
    critical = {g: v for g, v in per.items() if crit.get(g, 3) >= CRITICAL}
    weakest = min(critical.items(), key=lambda kv: (kv[1], kv[0])) if critical else None
    best = max(per.items(), key=lambda kv: (kv[1], kv[0])) if per else None
    proven = None
    if name in ("detection", "blocking"):
        attr = "detection_evidence" if name == "detection" else "blocking_evidence"
        proven = cell_ratio(cells, weights, lambda c: getattr(c, attr) is Evidence.PROVEN).percent
    return base.model_copy(update={
        "threshold": THRESHOLDS[name], "proven_percent": proven,
        "weakest_group": weakest[0] if weakest else None, "weakest_percent": weakest[1] if weakest else None,
        "best_group": best[0] if best else None, "best_percent": best[1] if best else None})


def _per_tactic(result: ScanResult, weights: Mapping[str, float], check: Mapping[str, Test]) -> list[TacticKpi]:
    out = []
    for tactic in result.kb.tactics:
        ts = [t for t in weights if (tech := result.kb.technique(t)) and tactic.shortname in tech.tactics]
        cells = measured_cells(result, ts)
        if not ts:
            continue
        det = cell_ratio(cells, weights, check["detection"])
        out.append(TacticKpi(tactic=tactic.id, name=tactic.name, techniques=len(ts),
                             visibility=cell_ratio(cells, weights, check["visibility"]).percent,
                             detection=det.percent, blocking=cell_ratio(cells, weights, check["blocking"]).percent,
                             weighted_detection=det.weighted_percent))
    return out


def _per_group(result: ScanResult, weights: Mapping[str, float], check: Mapping[str, Test]) -> list[GroupKpi]:
    out = []
    for profile in result.profiles:
        for g in profile.groups:
            ts = [t for t in g.technique_ids() if t in weights]
            if ts:
                cells = measured_cells(result, ts)
                out.append(GroupKpi(group=g.key, name=g.name, techniques=len(ts),
                                    visibility=cell_ratio(cells, weights, check["visibility"]).percent,
                                    detection=cell_ratio(cells, weights, check["detection"]).percent,
                                    blocking=cell_ratio(cells, weights, check["blocking"]).percent))
    return sorted(out, key=lambda k: (k.detection, k.group))


def _system_groups(result: ScanResult, cells: Sequence[Cell], check: Mapping[str, Test]) -> list[SystemGroupKpi]:
    out = []
    for g in result.inventory.system_groups:
        mine = [c for c in cells if c.group == g.applicable_to]
        gaps = Counter(c.gap for c in mine)
        pct = {k: _pct(sum(1 for c in mine if check[k](c)), len(mine)) for k in KPI_NAMES}
        out.append(SystemGroupKpi(
            name=g.applicable_to, criticality=g.level, kind=g.kind, platforms=list(g.platforms), hosts=g.hosts,
            techniques=len(mine), detection_proven=_pct(sum(1 for c in mine if c.detection_evidence is
                                                             Evidence.PROVEN), len(mine)),
            blocking_proven=_pct(sum(1 for c in mine if c.blocking_evidence is Evidence.PROVEN), len(mine)),
            blind=gaps[GapClass.BLIND], rule_gap=gaps[GapClass.RULE_GAP], broken=gaps[GapClass.BROKEN],
            contradicted=gaps[GapClass.CONTRADICTED], **pct))
    return sorted(out, key=lambda k: (-k.criticality, k.name))


def _distribution(cells: Sequence[Cell]) -> dict[str, dict[str, int]]:
    def count(values: Iterable[int]) -> dict[str, int]:
        c = Counter(values)
        return {str(k): c[k] for k in sorted(c)}
    return {"visibility": count(c.visibility for c in cells), "detection": count(c.detection for c in cells),
            "blocking": count(c.blocking for c in cells)}


def _validation(result: ScanResult) -> ValidationKpi | None:
    if not result.tests:
        return None
    cells = [c for c in result.cells.values() if c.applicable]
    return ValidationKpi(
        tests=len(result.tests),
        detected=sum(1 for c in cells if c.detection_evidence is Evidence.PROVEN),
        blocked=sum(1 for c in cells if c.blocking_evidence is Evidence.PROVEN),
        contradictions=sum(1 for c in cells if Evidence.DISPROVED in (c.detection_evidence, c.blocking_evidence)),
        not_detected=sum(1 for r in result.tests if r.detected is False),
        not_blocked=sum(1 for r in result.tests if r.blocked is False))


def build_summary(result: ScanResult) -> Summary:
    weights = {t: w.weight for t, w in result.weights.items() if w.weight > 0}
    check = tests()
    cells = measured_cells(result)
    kpis = Kpis(**{name: headline(result, cells, weights, name, test) for name, test in check.items()})
    info = result.kb.info
    gap_counts = Counter(g.gap.value for g in result.gaps)
    return Summary(
        detcov_version=__version__,
        generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        attack=AttackInfo(version=info.version, domain=info.domain, sha256=info.sha256,
                          detection_model=info.detection_model.value),
        scope=_scope(result, len(weights)),
        kpis=kpis,
        per_tactic=_per_tactic(result, weights, check),
        per_group=_per_group(result, weights, check),
        rule_health=dict(Counter(h.outcome.value for h in result.healths)),
        gaps=dict(gap_counts),
        top_gaps=[GapItem(technique=g.technique, name=g.name, tactics=list(g.tactics), gap=g.gap.value,
                          priority=g.priority, weight=round(g.weight, 3), visibility=g.visibility,
                          detection=g.detection, action=g.action, group=g.group, criticality=g.criticality,
                          evidence=g.evidence) for g in result.gaps[:10]],
        data_quality_issues=[str(i) for i in result.issues][:50],
        validation=_validation(result),
        rollup_rule=ROLLUP_RULE,
        system_groups=_system_groups(result, cells, check),
        not_observable=gap_counts.get(GapClass.NOT_OBSERVABLE.value, 0),
        not_applicable=gap_counts.get(GapClass.NOT_APPLICABLE.value, 0),
        distribution=_distribution(cells),
        hardening=[HardeningItem(device=d, mitigation=m, name=n, techniques=k) for d, m, n, k in result.hardening],
        as_of=result.as_of or None,
        provenance=list(result.provenance),
    )


def _scope(result: ScanResult, in_scope: int) -> Scope:
    return Scope(
        institution=result.config.name,
        profiles=[p.name for p in result.profiles],
        groups=sorted({g.key for p in result.profiles for g in p.groups}),
        techniques_in_scope=in_scope,
        platforms=sorted({p for g in result.inventory.system_groups for p in g.platforms}),
        system_groups=[g.applicable_to for g in result.inventory.system_groups],
        devices=len(result.inventory.devices),
        rules=len(result.ruleset.rules),
        rule_files=len(result.ruleset.files),
        inventory_sha256=result.inventory_sha256,
        rules_sha256=result.rules_sha256,
    )


# ----- tables -----------------------------------------------------------------------------------------------
def techniques_table(result: ScanResult) -> pd.DataFrame:
    """One row per technique: its deciding group's scores (the headline), then every group's, then explanations.

    Per-group columns: ``vis:<group>``, ``det:<group>``, ``blk:<group>``, ``gap:<group>`` (``not-applicable`` where the
    group does not run it). ``group``/``criticality`` name the deciding group; ``subtechniques`` lists the in-scope
    sub-techniques' gaps on a parent, and ``worst_subtechnique`` the worst of them, so a top gap never hides under a
    parent's score.
    """
    gaps = {g.technique: g for g in result.gaps}
    groups = [g.applicable_to for g in result.inventory.system_groups]
    rows = []
    for t in result.kb.techniques():
        w = result.weights.get(t.id)
        vis, det = result.visibility.get(t.id), result.detection.get(t.id)
        prev, val, gap = result.prevention.get(t.id), result.validation.get(t.id), gaps.get(t.id)
        row = {
            "technique": t.id, "name": t.name, "tactics": ";".join(t.tactics),
            "in_scope": bool(w and w.weight > 0), "weight": round(w.weight, 3) if w else 0.0,
            "groups": w.count if w else 0, "visibility": vis.score if vis else 0,
            "detection": det.score if det else -1, "prevention": prev.score if prev else 0,
            "validated": val.status if val else "", "gap": gap.gap.value if gap else "",
            "priority": gap.priority if gap else 0.0,
            "group": gap.group or "" if gap else "", "criticality": gap.criticality if gap and gap.group else 0,
            "evidence": gap.evidence if gap else "",
        }
        for g in groups:
            c = result.cells.get((t.id, g))
            row[f"vis:{g}"] = c.visibility if c and c.applicable else None
            row[f"det:{g}"] = c.detection if c and c.applicable else None
            row[f"blk:{g}"] = c.blocking if c and c.applicable else None
            row[f"gap:{g}"] = (c.gap.value if c.observable or not c.applicable else "not-observable") if c else ""
        row.update(_subtechniques(t.id, gaps))
        row.update({
            "visibility_explanation": vis.explanation if vis else "no system group runs this platform",
            "detection_explanation": det.explanation if det else "no rule",
            "prevention_explanation": prev.explanation if prev else "no blocking control",
        })
        rows.append(row)
    return pd.DataFrame(rows)


_GAP_ORDER = ["blind", "contradicted", "broken", "rule-gap", "detected", "validated", "not-observable",
              "not-applicable"]


def _subtechniques(tid: str, gaps: Mapping[str, object]) -> dict[str, str]:
    if "." in tid:
        return {"subtechniques": "", "worst_subtechnique": ""}
    subs = sorted((g for t, g in gaps.items() if t.startswith(tid + ".")), key=lambda g: g.technique)  # type: ignore[attr-defined]
    if not subs:
        return {"subtechniques": "", "worst_subtechnique": ""}
    worst = min(subs, key=lambda g: (_GAP_ORDER.index(g.gap.value), -g.priority))  # type: ignore[attr-defined]
    return {"subtechniques": "; ".join(f"{g.technique}: {g.gap.value}" for g in subs),  # type: ignore[attr-defined]
            "worst_subtechnique": f"{worst.technique}: {worst.gap.value}"}  # type: ignore[attr-defined]


def cells_table(result: ScanResult) -> pd.DataFrame:
    """Long form: one row per in-scope technique × system group, with every score, its evidence and why."""
    cols = ["technique", "group", "criticality", "applicable", "observable", "visibility", "detection", "blocking",
            "detection_evidence", "blocking_evidence", "gap", "priority", "visibility_explanation",
            "detection_explanation", "blocking_explanation", "validation"]
    rows = [{"technique": c.technique, "group": c.group, "criticality": c.criticality, "applicable": c.applicable,
             "observable": c.observable, "visibility": c.visibility, "detection": c.detection,
             "blocking": c.blocking, "detection_evidence": c.detection_evidence.value,
             "blocking_evidence": c.blocking_evidence.value, "gap": c.gap.value, "priority": c.priority,
             "visibility_explanation": c.visibility_text, "detection_explanation": c.detection_text,
             "blocking_explanation": c.blocking_text, "validation": c.validation_text}
            for c in sorted(result.cells.values(), key=lambda c: (-c.priority, c.technique, c.group))]
    return pd.DataFrame(rows, columns=cols)


def rules_table(result: ScanResult, healths: Sequence[RuleHealth] | None = None) -> pd.DataFrame:
    """One row per rule (``healths``: these rules only; default every rule), built column by column with C-level
    maps (100,000 rules: no row dicts, no per-cell Python call where a column is a plain attribute); what rules share
    (their SIEMs, techniques, log sources, missing sources, verdicts) is turned into text once per shared object."""
    hs = result.healths if healths is None else healths
    rules = list(map(_RULE, hs))
    locations = list(map(_LOCATION, rules))
    columns: dict[str, Iterable[str]] = {
        "rule_id": map(_ID, rules), "title": map(_TITLE, rules), "format": _values(map(_FORMAT, rules)),
        "path": map(str, locations), "status": _values(map(_STATUS, rules)),
        "severity": (s or "" for s in map(_SEVERITY, rules)), "health": _values(map(_OUTCOME, hs)),
        "techniques": _once(map(_TECHNIQUE_IDS, rules), ";".join),
        "log_sources": _once(map(_LOG_SOURCES, rules), _labels), "detail": map(_DETAIL, hs),
        "missing": _once(map(_MISSING, hs), ";".join), "siems": _once(map(_SIEMS, rules), ";".join),
        "healthy_in": _once(map(_GROUPS, hs), _healthy_in), "per_group": _once(map(_GROUPS, hs), verdicts_text),
    }
    # one column's Python strings at a time, each stored as the frame's own (Arrow) column at once
    return pd.DataFrame({name: pd.Series(list(values)) for name, values in columns.items()})


_RULE, _LOCATION, _ID, _TITLE = attrgetter("rule"), attrgetter("location"), attrgetter("id"), attrgetter("title")
_FORMAT, _STATUS, _SEVERITY, _OUTCOME = attrgetter("format"), attrgetter("status"), attrgetter("severity"), \
    attrgetter("outcome")
_TECHNIQUE_IDS, _LOG_SOURCES, _SIEMS = attrgetter("technique_ids"), attrgetter("log_sources"), attrgetter("siems")
_DETAIL, _MISSING, _GROUPS = attrgetter("detail"), attrgetter("missing"), attrgetter("groups")
_T = TypeVar("_T")


def _values(members: Iterable[StrEnum]) -> list[str]:
    """Enum members as their values (a dict lookup each, not the ``value`` property)."""
    found: dict[StrEnum, str] = {}
    return [found.get(m) or found.setdefault(m, m.value) for m in members]


def _once(objects: Iterable[_T], make: Callable[[_T], str]) -> list[str]:
    """``make(obj)`` per object, made once per distinct object (rules share their tuples: by identity, no hashing;
    the objects are attributes of rows that outlive the call, so no identity is reused meanwhile)."""
    texts: dict[int, str] = {}
    out: list[str] = []
    for obj in objects:
        text = texts.get(id(obj))
        if text is None:
            text = texts[id(obj)] = make(obj)
        out.append(text)
    return out


def _labels(reqs: tuple[LogSourceReq, ...]) -> str:
    return ";".join(f"{r.kind}:{r.value}" for r in reqs)


def _healthy_in(groups: tuple[GroupHealth, ...]) -> str:
    return ";".join(healthy_groups(groups))


def devices_table(result: ScanResult) -> pd.DataFrame:
    return pd.DataFrame([{
        "device": d.name, "type": d.type or "", "system_groups": ";".join(d.applicable_to),
        "siem": ";".join(d.siem_ids(result.inventory.siem_ids)), "reaches": ";".join(r.siems),
        "silent": "; ".join(r.silent), "blocking": bool(d.blocking), "quality": round(r.quality, 2),
        "quality_cap": r.cap, "product_id": r.product or "", "vendor": d.vendor or "", "product": d.product or "",
        **{dim: getattr(d.data_quality, dim) for dim in DQ_DIMENSIONS},
    } for d, r in zip(result.inventory.devices, result.estate.devices, strict=True)])


def gaps_table(result: ScanResult) -> pd.DataFrame:
    return pd.DataFrame([{
        "technique": g.technique, "name": g.name, "tactics": ";".join(g.tactics), "gap": g.gap.value,
        "group": g.group or "", "criticality": g.criticality if g.group else 0, "priority": g.priority,
        "weight": round(g.weight, 3), "visibility": g.visibility, "detection": g.detection,
        "prevention": g.prevention, "evidence": g.evidence, "action": g.action, "groups": "; ".join(g.groups),
    } for g in result.gaps])


def recommendations_table(result: ScanResult) -> pd.DataFrame:
    rows = [{"step": s.step, "kind": "data source", "target": s.text, "gain": s.gain, "effort": s.effort,
             "techniques": ";".join(s.techniques[:30]), "detail": ", ".join(s.components)}
            for s in result.onboarding]
    gap_order = [g.technique for g in result.gaps if g.gap.value == "rule-gap"]
    for i, tid in enumerate(gap_order[:25], start=1):
        for hint in result.hints.get(tid, [])[:1]:
            rows.append({"step": i, "kind": "rule", "target": f"{tid}: {hint.text}",
                         "gain": result.weights[tid].weight, "effort": 1.0, "techniques": tid,
                         "detail": "not collected: " + ", ".join(hint.missing) if hint.missing else ""})
    return pd.DataFrame(rows, columns=["step", "kind", "target", "gain", "effort", "techniques", "detail"])


TABLES = ("techniques", "cells", "rules", "devices", "gaps", "recommendations")  # a scan's tables, in order


def all_tables(result: ScanResult, *, rules: bool = True) -> dict[str, pd.DataFrame]:
    """The scan's tables (:data:`TABLES`); ``rules=False``: all but the rules table (made already, e.g. from
    the read result before scoring: it needs only the judged rules)."""
    makers = {"techniques": techniques_table, "cells": cells_table, "rules": rules_table, "devices": devices_table,
              "gaps": gaps_table, "recommendations": recommendations_table}
    return {name: makers[name](result) for name in TABLES if rules or name != "rules"}
