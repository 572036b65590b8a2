"""The board's view of the numbers (pure): KPI status against targets (RAG), top risks with the system group and
tactic that make them matter to the business, and a change log per quarter that says *why* a KPI moved.

RAG: green at or above the target; amber less than ``amber_margin`` points below it; red further below; ``none``
when no target applies to the quarter (targets carry forward from the quarter they were set for).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from detcov.coverage.summary import Summary
from detcov.outputs.history.actions import Target
from detcov.outputs.history.diff import health_bucket
from detcov.outputs.history.snapshot import RuleRow, Snapshot
from detcov.outputs.history.store import KPI_NAMES
from detcov.outputs.report import compat

RAG = ("green", "amber", "red", "none")
# Tactics by how directly a successful technique hurts a bank (first found decides a technique's business impact).
TACTIC_SEVERITY = ("impact", "exfiltration", "credential-access", "lateral-movement", "initial-access",
                   "privilege-escalation", "command-and-control", "collection", "persistence", "execution",
                   "defense-evasion", "discovery", "resource-development", "reconnaissance")
TACTIC_IDS = {"TA0043": "reconnaissance", "TA0042": "resource-development", "TA0001": "initial-access",
              "TA0002": "execution", "TA0003": "persistence", "TA0004": "privilege-escalation",
              "TA0005": "defense-evasion", "TA0006": "credential-access", "TA0007": "discovery",
              "TA0008": "lateral-movement", "TA0009": "collection", "TA0011": "command-and-control",
              "TA0010": "exfiltration", "TA0040": "impact"}
MOVED = 0.5  # percentage points: smaller changes are "unchanged"


def headline(summary: Summary, kpi: str) -> float:
    """The KPI figure the report leads with: threat-weighted percent (v2: threat × criticality weighted)."""
    return float(getattr(summary.kpis, kpi).weighted_percent)


def rag(value: float, target: float | None, margin: float) -> str:
    if target is None:
        return "none"
    if value >= target:
        return "green"
    return "amber" if value >= target - margin else "red"


@dataclass(frozen=True, slots=True)
class KpiStatus:
    key: str
    value: float
    target: float | None
    margin: float
    rag: str
    proven: float | None  # share proven by a test (v2)
    weakest: compat.Weakest | None  # worst critical system group (v2)

    @property
    def gap_to_target(self) -> float | None:
        return None if self.target is None else round(self.value - self.target, 1)


def kpi_statuses(summary: Summary, targets: Mapping[str, Target]) -> tuple[KpiStatus, ...]:
    out = []
    for kpi in KPI_NAMES:
        value, target = headline(summary, kpi), targets.get(kpi)
        out.append(KpiStatus(kpi, value, target.target if target else None, target.amber_margin if target else 0.0,
                             rag(value, target.target if target else None, target.amber_margin if target else 0.0),
                             compat.proven_percent(summary, kpi), compat.weakest_group(summary, kpi)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Risk:
    technique: str
    name: str
    tactic: str  # shortname of the tactic that decides the business impact
    gap: str
    priority: float
    weight: float
    group: str  # the system group it was decided in (v2), "" in a v1 record
    criticality: int | None
    kind: str  # that group's kind (core-banking, payments, …), "" when unknown
    detail: str  # the scanner's recommended next step, as written


def impact_tactic(tactics: Sequence[str]) -> str:
    names = {TACTIC_IDS.get(t, t) for t in tactics}
    return next((t for t in TACTIC_SEVERITY if t in names), tactics[0] if tactics else "")


def top_risks(summary: Summary, limit: int = 10) -> tuple[Risk, ...]:
    kinds = {g.name: g.kind for g in compat.system_groups(summary) or ()}
    out = []
    for g in summary.top_gaps[:limit]:
        group, criticality = compat.gap_group(g)
        out.append(Risk(g.technique, g.name, impact_tactic(g.tactics), g.gap, g.priority, g.weight, group,
                        criticality, kinds.get(group, ""), g.action))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class QuarterChange:
    """What changed from ``previous`` to ``quarter`` and the facts that explain it."""

    quarter: str
    previous: str | None
    points: Mapping[str, float]  # KPI -> headline change in points (empty for the first quarter)
    sending: int  # devices whose logs reach the SIEM
    devices: int  # devices in the inventory
    started_sending: tuple[str, ...]
    stopped_sending: tuple[str, ...]
    rules_healthy: int
    rules: int
    rules_fixed: tuple[RuleRow, ...]
    rules_broken: tuple[RuleRow, ...]
    rules_added: int
    rules_removed: int
    actions_done: tuple[str, ...]  # action titles closed as done in this quarter


def _sending(snap: Snapshot) -> set[str]:
    return {d.device for d in snap.devices if d.sending}


def _broken(snap: Snapshot) -> dict[str, RuleRow]:
    return {r.rule_id: r for r in snap.rules if health_bucket(r.health) == "broken"}


def quarter_change(snap: Snapshot, before: Snapshot | None, actions_done: Sequence[str]) -> QuarterChange:
    s = snap.summary
    healthy = sum(health_bucket(r.health) == "healthy" for r in snap.rules)
    if before is None:
        return QuarterChange(snap.quarter, None, {}, len(_sending(snap)), len(snap.devices) or s.scope.devices,
                             (), (), healthy, len(snap.rules), (), (), 0, 0, tuple(actions_done))
    now_ids, old_ids = {r.rule_id for r in snap.rules}, {r.rule_id for r in before.rules}
    broken_now, broken_before = _broken(snap), _broken(before)
    return QuarterChange(
        snap.quarter, before.quarter,
        {k: round(headline(s, k) - headline(before.summary, k), 1) for k in KPI_NAMES},
        len(_sending(snap)), len(snap.devices) or s.scope.devices,
        tuple(sorted(_sending(snap) - _sending(before))), tuple(sorted(_sending(before) - _sending(snap))),
        healthy, len(snap.rules),
        tuple(r for r in before.rules if r.rule_id in broken_before and r.rule_id in now_ids
              and r.rule_id not in broken_now),
        tuple(r for i, r in broken_now.items() if i not in broken_before),
        len(now_ids - old_ids), len(old_ids - now_ids), tuple(actions_done))


def moved(points: Mapping[str, float], up: bool) -> list[tuple[str, float]]:
    """KPIs that rose (``up``) or fell by at least :data:`MOVED` points, biggest change first."""
    items = [(k, v) for k, v in points.items() if (v >= MOVED if up else v <= -MOVED)]
    return sorted(items, key=lambda kv: -abs(kv[1]))
