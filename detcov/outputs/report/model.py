"""What the report shows, computed from the history store (pure; no HTML here).

:func:`report_data` gathers one quarter's snapshot, the quarters it is compared with (the latest recorded
before it, and the same quarter a year earlier), KPI changes in threat-weighted percentage points, the trend and
a change log over every recorded quarter, KPI status against the targets (RAG), the action plan tracked across
quarters, the top risks, the per-system-group view (summary version 2) and the notes an auditor needs when ATT&CK
versions differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detcov.attack import AttackKB
from detcov.coverage.summary import Summary
from detcov.outputs.history import History, HistoryDiff, Snapshot, health_bucket
from detcov.outputs.history.actions import PlanFileRecord, PlanHistory, Target, read_plans
from detcov.outputs.history.diff import PROVEN, covered
from detcov.outputs.history.quarters import quarter_key
from detcov.outputs.history.snapshot import DeviceRow, RuleRow, TechniqueRow
from detcov.outputs.history.store import KPI_NAMES
from detcov.outputs.report import compat
from detcov.outputs.report.board import KpiStatus, QuarterChange, Risk, kpi_statuses, quarter_change, top_risks
from detcov.outputs.report.controls import CsfCoverage, csf_coverage
from detcov.outputs.report.tracking import Tracking, track

LOW_QUALITY = 0.5
HEALTH_BUCKETS = ("healthy", "broken", "disabled", "unverified")


@dataclass(frozen=True, slots=True)
class Delta:
    against: str | None  # the quarter compared with; None = none recorded
    points: float | None  # threat-weighted percentage points, this quarter minus that one


@dataclass(frozen=True, slots=True)
class KpiCard:
    key: str  # visibility | detection | blocking | validated
    covered: int
    total: int
    percent: float
    weighted_percent: float
    vs_previous: Delta
    vs_year: Delta


@dataclass(frozen=True, slots=True)
class VersionNote:
    quarter: str
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    """One tested technique: what the scores claim vs what the simulation proved."""

    technique: TechniqueRow
    claimed: bool
    proven: bool

    @property
    def verdict(self) -> str:
        if self.claimed:
            return "confirmed" if self.proven else "contradicted"
        return "unclaimed" if self.proven else "unproven"


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Who made the report and how it is labelled (the evidence appendix and every page header)."""

    classification: str = ""  # "" = the catalogue's default label
    prepared_by: str = ""
    files: tuple[PlanFileRecord, ...] = ()  # targets / action-plan files used, with their SHA-256
    store: str = ""
    store_sha256: str = ""


@dataclass(frozen=True, slots=True)
class ReportData:
    quarter: str
    snapshot: Snapshot
    cards: tuple[KpiCard, ...]
    trend: tuple[tuple[str, Summary], ...]  # recorded quarters up to this one
    previous: str | None
    year_ago: str | None
    diff: HistoryDiff | None  # previous → this quarter
    version_notes: tuple[VersionNote, ...]
    health: dict[str, int]  # bucket -> rules
    broken_rules: tuple[RuleRow, ...]
    low_quality_devices: tuple[DeviceRow, ...]
    claims: tuple[ClaimCheck, ...]
    quarters_recorded: tuple[str, ...]
    statuses: tuple[KpiStatus, ...] = ()
    targets_from: str | None = None  # the quarter whose recorded targets apply
    tracking: Tracking = field(default_factory=lambda: Tracking(None, None, (), ()))
    changes: tuple[QuarterChange, ...] = ()  # one per recorded quarter up to this one
    risks: tuple[Risk, ...] = ()
    groups: tuple[compat.GroupView, ...] | None = None  # None: not in this record (summary version 1)
    csf: tuple[CsfCoverage, ...] = ()
    run: RunInfo = field(default_factory=RunInfo)

    @property
    def summary_version(self) -> int:
        return compat.version(self.summary)

    @property
    def verdicts(self) -> dict[str, int]:
        """Tested techniques per verdict: the validation section's sentence and table count the same rows."""
        counts = dict.fromkeys(("confirmed", "contradicted", "unclaimed", "unproven"), 0)
        for c in self.claims:
            counts[c.verdict] += 1
        return counts

    @property
    def status(self) -> dict[str, KpiStatus]:
        return {s.key: s for s in self.statuses}

    @property
    def summary(self) -> Summary:
        return self.snapshot.summary


def _delta(current: Summary, other: Summary | None, other_quarter: str | None, kpi: str) -> Delta:
    if other is None:
        return Delta(None, None)
    points = getattr(current.kpis, kpi).weighted_percent - getattr(other.kpis, kpi).weighted_percent
    return Delta(other_quarter, round(points, 1))


def kpi_cards(summary: Summary, previous: tuple[str, Summary] | None,
              year: tuple[str, Summary] | None) -> tuple[KpiCard, ...]:
    cards = []
    for kpi in KPI_NAMES:
        r = getattr(summary.kpis, kpi)
        cards.append(KpiCard(kpi, r.covered, r.total, r.percent, r.weighted_percent,
                             _delta(summary, previous and previous[1], previous and previous[0], kpi),
                             _delta(summary, year and year[1], year and year[0], kpi)))
    return tuple(cards)


def health_counts(rules: tuple[RuleRow, ...], fallback: dict[str, int]) -> dict[str, int]:
    """Rules per bucket, from the rule table (or from summary.rule_health when the table is empty)."""
    counts = dict.fromkeys(HEALTH_BUCKETS, 0)
    items = [(r.health, 1) for r in rules] if rules else list(fallback.items())
    for health, n in items:
        counts[health_bucket(health)] += n
    return counts


def claim_checks(techniques: tuple[TechniqueRow, ...]) -> tuple[ClaimCheck, ...]:
    tested = [t for t in techniques if t.validated]
    checks = [ClaimCheck(t, covered(t, "detection") or covered(t, "prevention"), t.validated in PROVEN)
              for t in tested]
    order = {"contradicted": 0, "unclaimed": 1, "unproven": 2, "confirmed": 3}
    return tuple(sorted(checks, key=lambda c: (order[c.verdict], -c.technique.weight, c.technique.technique)))


def version_notes(quarter: str, summaries: dict[str, Summary], compared: list[str | None]) -> tuple[VersionNote, ...]:
    new = summaries[quarter].attack.version
    notes = {q: VersionNote(q, summaries[q].attack.version, new) for q in compared
             if q is not None and summaries[q].attack.version != new}
    return tuple(notes.values())


def targets_for(plans: PlanHistory, quarter: str) -> tuple[str | None, dict[str, Target]]:
    """The targets recorded for ``quarter``, or else for the latest quarter before it (targets carry forward)."""
    recorded = [q for q in plans.targets if quarter_key(q) <= quarter_key(quarter)]
    if not recorded:
        return None, {}
    return recorded[-1], {t.kpi: t for t in plans.targets[recorded[-1]]}


def change_log(history: History, quarters: list[str], plans: PlanHistory) -> tuple[QuarterChange, ...]:
    out = []
    for i, q in enumerate(quarters):
        done = [a.title for a in plans.actions.get(q, ()) if a.status == "done" and a.closed == q]
        out.append(quarter_change(history.load(q), history.load(quarters[i - 1]) if i else None, done))
    return tuple(out)


def report_data(history: History, quarter: str, kb: AttackKB | None = None, run: RunInfo | None = None) -> ReportData:
    """Everything the report shows for ``quarter`` (see the module docstring)."""
    snap = history.load(quarter)
    quarter = snap.quarter
    summaries = history.summaries()
    prev_q, year_q = history.previous(quarter), history.year_ago(quarter)
    prev = (prev_q, summaries[prev_q]) if prev_q else None
    year = (year_q, summaries[year_q]) if year_q else None
    diff = None
    if prev_q is not None:
        diff = history.diff(prev_q, quarter, kb=kb)
    trend_quarters = history.until(quarter)
    plans = read_plans(history.store)
    targets_q, targets = targets_for(plans, quarter)
    return ReportData(
        quarter, snap, kpi_cards(snap.summary, prev, year), tuple((q, summaries[q]) for q in trend_quarters),
        prev_q, year_q, diff, version_notes(quarter, summaries, [prev_q, year_q]),
        health_counts(snap.rules, snap.summary.rule_health),
        tuple(r for r in snap.rules if health_bucket(r.health) == "broken"),
        tuple(sorted((d for d in snap.devices if d.quality < LOW_QUALITY), key=lambda d: d.quality)),
        claim_checks(snap.techniques), tuple(history.quarters()),
        kpi_statuses(snap.summary, targets), targets_q, track(plans, quarter, snap.techniques),
        change_log(history, trend_quarters, plans), top_risks(snap.summary), compat.system_groups(snap.summary),
        csf_coverage(snap.techniques), run or RunInfo(),
    )
