"""Reading ``summary.json`` fields that only newer records have (SUMMARY_VERSION 2), defensively.

A history store keeps every quarter's summary as it was written; a version-1 record has no per-system-group KPIs,
no criticality, no claimed-vs-proven split, no distribution and no hardening. The report asks these accessors and
says "not available in this record" when they answer None — never a guess, never a crash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detcov.coverage.summary import Summary

CRITICAL = 4  # criticality 4 (business-critical) and 5 (crown jewel)


def get(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` for a model, ``obj[name]`` for a mapping, else ``default``."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def version(summary: Summary) -> int:
    return int(get(summary, "summary_version", 1) or 1)


@dataclass(frozen=True, slots=True)
class GroupView:
    """One system group's coverage (percent at the KPI thresholds), from a v2 summary."""

    name: str
    criticality: int
    kind: str
    hosts: int
    techniques: int
    visibility: float
    detection: float
    blocking: float
    validated: float
    detection_proven: float | None
    blocking_proven: float | None
    blind: int
    rule_gap: int
    broken: int
    contradicted: int

    @property
    def critical(self) -> bool:
        return self.criticality >= CRITICAL


def _num(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _opt(value: Any) -> float | None:
    return None if value is None else _num(value)


def system_groups(summary: Summary) -> tuple[GroupView, ...] | None:
    """Per system group, most critical first; None when the record has no per-group KPIs (summary version 1)."""
    groups = get(summary, "system_groups")
    if not isinstance(groups, Sequence) or (not groups and version(summary) < 2):
        return None
    out = [GroupView(str(get(g, "name", "?")), int(_num(get(g, "criticality"), 3)), str(get(g, "kind", "other")),
                     int(_num(get(g, "hosts"))), int(_num(get(g, "techniques"))), _num(get(g, "visibility")),
                     _num(get(g, "detection")), _num(get(g, "blocking")), _num(get(g, "validated")),
                     _opt(get(g, "detection_proven")), _opt(get(g, "blocking_proven")), int(_num(get(g, "blind"))),
                     int(_num(get(g, "rule_gap"))), int(_num(get(g, "broken"))), int(_num(get(g, "contradicted"))))
           for g in groups]
    return tuple(sorted(out, key=lambda g: (-g.criticality, g.name)))


@dataclass(frozen=True, slots=True)
class Weakest:
    group: str
    percent: float


def weakest_group(summary: Summary, kpi: str) -> Weakest | None:
    ratio = get(summary.kpis, kpi)
    group, percent = get(ratio, "weakest_group"), get(ratio, "weakest_percent")
    if not group or percent is None:
        return None
    return Weakest(str(group), _num(percent))


def proven_percent(summary: Summary, kpi: str) -> float | None:
    return _opt(get(get(summary.kpis, kpi), "proven_percent"))


def threshold(summary: Summary, kpi: str) -> int | None:
    value = get(get(summary.kpis, kpi), "threshold")
    return None if value is None else int(_num(value))


def not_observable(summary: Summary) -> int:
    """In-scope techniques nothing the institution runs can observe: v2's list, else v1's gap count."""
    value = get(summary, "not_observable")
    if value is None or version(summary) < 2:
        return int(summary.gaps.get("not-observable", 0))
    return int(value) if isinstance(value, int) else len(value)


def hardening(summary: Summary) -> tuple[str, ...] | None:
    """Policy mitigations seen as configured (v2), or None."""
    value = get(summary, "hardening")
    if value is None:
        return None
    return tuple(" ".join(str(p) for p in (get(v, "mitigation", v), get(v, "name")) if p) for v in value)


def gap_group(gap: Any) -> tuple[str, int | None]:
    """The system group a top gap was decided in and its criticality (v2), else ("", None)."""
    group, criticality = get(gap, "group"), get(gap, "criticality")
    return (str(group) if group else ""), (None if criticality is None else int(_num(criticality)))
