"""KPIs (``summary.json``) and the flat tables of a scan (techniques, rules, devices, gaps, recommendations).

Coverage definitions, over the techniques in the threat profile (weight > 0):
visible = rolled-up visibility ≥ 1; detected = detection ≥ 1; blocked = blocking ≥ 1; validated = a simulation was
detected or blocked. "Weighted" percentages weight each technique by its threat weight.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import pandas as pd

from detcov import __version__
from detcov.coverage.summary import (
    ROLLUP_RULE,
    AttackInfo,
    GapItem,
    GroupKpi,
    Kpis,
    Ratio,
    Scope,
    Summary,
    TacticKpi,
    ValidationKpi,
)

if TYPE_CHECKING:
    from detcov.coverage.engine import ScanResult

Test = Callable[[str], bool]


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def ratio(techniques: Iterable[str], weights: Mapping[str, float], test: Test) -> Ratio:
    ts = list(techniques)
    hit = [t for t in ts if test(t)]
    total_w = sum(weights.get(t, 0.0) for t in ts)
    return Ratio(covered=len(hit), total=len(ts), percent=_pct(len(hit), len(ts)),
                 weighted_percent=_pct(sum(weights.get(t, 0.0) for t in hit), total_w))


def tests(result: ScanResult) -> dict[str, Test]:
    def visible(t: str) -> bool:
        v = result.visibility.get(t)
        return bool(v and v.score >= 1)

    def detected(t: str) -> bool:
        d = result.detection.get(t)
        return bool(d and d.score >= 1)

    def blocked(t: str) -> bool:
        p = result.prevention.get(t)
        return bool(p and p.score >= 1)

    def validated(t: str) -> bool:
        v = result.validation.get(t)
        return bool(v and (v.detected or v.blocked))

    return {"visibility": visible, "detection": detected, "blocking": blocked, "validated": validated}


def _per_tactic(result: ScanResult, weights: Mapping[str, float], check: Mapping[str, Test]) -> list[TacticKpi]:
    out = []
    for tactic in result.kb.tactics:
        ts = [t for t in weights if (tech := result.kb.technique(t)) and tactic.shortname in tech.tactics]
        if not ts:
            continue
        det = ratio(ts, weights, check["detection"])
        out.append(TacticKpi(tactic=tactic.id, name=tactic.name, techniques=len(ts),
                             visibility=ratio(ts, weights, check["visibility"]).percent, detection=det.percent,
                             blocking=ratio(ts, weights, check["blocking"]).percent,
                             weighted_detection=det.weighted_percent))
    return out


def _per_group(result: ScanResult, weights: Mapping[str, float], check: Mapping[str, Test]) -> list[GroupKpi]:
    out = []
    for profile in result.profiles:
        for g in profile.groups:
            ts = [t for t in g.technique_ids() if t in weights]
            if ts:
                out.append(GroupKpi(group=g.key, name=g.name, techniques=len(ts),
                                    visibility=ratio(ts, weights, check["visibility"]).percent,
                                    detection=ratio(ts, weights, check["detection"]).percent,
                                    blocking=ratio(ts, weights, check["blocking"]).percent))
    return sorted(out, key=lambda k: (k.detection, k.group))


def build_summary(result: ScanResult) -> Summary:
    weights = {t: w.weight for t, w in result.weights.items() if w.weight > 0}
    check = tests(result)
    kpis = Kpis(**{name: ratio(weights, weights, test) for name, test in check.items()})
    contradictions = sum(len(v.contradictions) for v in result.validation.values())
    validation = ValidationKpi(
        tests=sum(len(v.results) for v in result.validation.values()),
        detected=sum(1 for v in result.validation.values() if v.detected),
        blocked=sum(1 for v in result.validation.values() if v.blocked),
        contradictions=contradictions) if result.validation else None
    info = result.kb.info
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
        gaps=dict(Counter(g.gap.value for g in result.gaps)),
        top_gaps=[GapItem(technique=g.technique, name=g.name, tactics=list(g.tactics), gap=g.gap.value,
                          priority=g.priority, weight=round(g.weight, 3), visibility=g.visibility,
                          detection=g.detection, action=g.action) for g in result.gaps[:10]],
        data_quality_issues=[str(i) for i in result.issues][:50],
        validation=validation,
        rollup_rule=ROLLUP_RULE,
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
    gaps = {g.technique: g for g in result.gaps}
    rows = []
    for t in result.kb.techniques():
        w = result.weights.get(t.id)
        vis, det = result.visibility.get(t.id), result.detection.get(t.id)
        prev, val, gap = result.prevention.get(t.id), result.validation.get(t.id), gaps.get(t.id)
        rows.append({
            "technique": t.id, "name": t.name, "tactics": ";".join(t.tactics),
            "in_scope": bool(w and w.weight > 0), "weight": round(w.weight, 3) if w else 0.0,
            "groups": w.count if w else 0, "visibility": vis.score if vis else 0,
            "detection": det.score if det else -1, "prevention": prev.score if prev else 0,
            "validated": val.status if val else "", "gap": gap.gap.value if gap else "",
            "priority": gap.priority if gap else 0.0,
            "visibility_explanation": vis.explanation if vis else "no system group runs this platform",
            "detection_explanation": det.explanation if det else "no rule",
            "prevention_explanation": prev.explanation if prev else "no blocking control",
        })
    return pd.DataFrame(rows)


def rules_table(result: ScanResult) -> pd.DataFrame:
    return pd.DataFrame([{
        "rule_id": h.rule.id, "title": h.rule.title, "format": h.rule.format.value, "path": str(h.rule.location),
        "status": h.rule.status.value, "severity": h.rule.severity or "", "health": h.outcome.value,
        "techniques": ";".join(h.rule.technique_ids), "log_sources": ";".join(h.rule.log_source_labels),
        "detail": h.detail, "missing": ";".join(h.missing),
    } for h in result.healths], columns=["rule_id", "title", "format", "path", "status", "severity", "health",
                                         "techniques", "log_sources", "detail", "missing"])


def devices_table(result: ScanResult) -> pd.DataFrame:
    return pd.DataFrame([{
        "device": d.name, "type": d.type or "", "system_groups": ";".join(d.applicable_to), "siem": d.siem,
        "blocking": bool(d.blocking), "quality": round(d.data_quality.factor, 2),
        "vendor": d.vendor or "", "product": d.product or "",
    } for d in result.inventory.devices])


def gaps_table(result: ScanResult) -> pd.DataFrame:
    return pd.DataFrame([{
        "technique": g.technique, "name": g.name, "tactics": ";".join(g.tactics), "gap": g.gap.value,
        "priority": g.priority, "weight": round(g.weight, 3), "visibility": g.visibility, "detection": g.detection,
        "prevention": g.prevention, "action": g.action,
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


def all_tables(result: ScanResult) -> dict[str, pd.DataFrame]:
    return {"techniques": techniques_table(result), "rules": rules_table(result), "devices": devices_table(result),
            "gaps": gaps_table(result), "recommendations": recommendations_table(result)}
