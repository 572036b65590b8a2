"""The sentences the report writes from the numbers (pure): the executive summary, risks in business terms, the
action wording for a gap. Every sentence is a catalogue template filled with figures, so both languages say the
same thing; the only words not from the catalogue are ids, ATT&CK names and the institution's own names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from detcov.outputs.report.board import QuarterChange, Risk, moved
from detcov.outputs.report.i18n import Catalogue
from detcov.outputs.report.model import ReportData

MAX_NAMES = 4


@dataclass(frozen=True, slots=True)
class ExecSummary:
    headline: str
    improved: str | None
    worse: str | None
    targets: str | None
    weakest: str | None
    actions: str | None
    risks: tuple[str, ...]


def join(t: Catalogue, items: Sequence[str]) -> str:
    """``a, b and c`` in this language (zh-TW: a、b 及 c)."""
    items = list(items)
    if len(items) > MAX_NAMES:
        items = [*items[:MAX_NAMES], t("list.more", n=len(items) - MAX_NAMES)]
    if len(items) <= 1:
        return "".join(items)
    return t("list.sep").join(items[:-1]) + t("list.and") + items[-1]


def kpi_moves(t: Catalogue, moves: Sequence[tuple[str, float]]) -> str:
    return join(t, [t("exec.kpi_move", kpi=t(f"kpi.{k}"), points=t.points(v)) for k, v in moves])


def _reasons(t: Catalogue, change: QuarterChange, up: bool) -> list[str]:
    """The facts behind a rise (``up``) or a fall, each one sentence part; a fact with nothing to say is left out."""
    facts: list[tuple[str, Sequence[Any] | int, bool]] = (
        [("why.started_sending", change.started_sending, True), ("why.rules_fixed", change.rules_fixed, False),
         ("why.rules_added", change.rules_added, False), ("why.actions_done", change.actions_done, False)] if up else
        [("why.stopped_sending", change.stopped_sending, True), ("why.rules_broken", change.rules_broken, False),
         ("why.rules_removed", change.rules_removed, False)])
    out = []
    for key, value, named in facts:
        n = value if isinstance(value, int) else len(value)
        if n:
            out.append(t(key, n=n, devices=join(t, [str(v) for v in value])) if named and not isinstance(value, int)
                       else t(key, n=n))
    return out


def change_reasons(t: Catalogue, change: QuarterChange) -> str:
    """Why this quarter differs from the one before, in one sentence ("" when nothing explains it)."""
    return join(t, _reasons(t, change, True) + _reasons(t, change, False))


def where(t: Catalogue, risk: Risk) -> str:
    if not risk.group:
        return t("risk.where_estate")
    if risk.criticality is None:
        return risk.group
    return t("risk.where", group=risk.group, criticality=t(f"criticality.{risk.criticality}"))


def impact(t: Catalogue, risk: Risk) -> str:
    text = t.maybe("impact", risk.tactic)
    return t("risk.impact_kind", impact=text, kind=t(f"kind.{risk.kind}")) if t.has(f"kind.{risk.kind}") else text


def action_text(t: Catalogue, gap: str) -> str:
    return t.maybe("action", gap)


def risk_sentence(t: Catalogue, rank: int, risk: Risk) -> str:
    return t("exec.risk", rank=rank, technique=risk.technique, name=risk.name, where=where(t, risk),
             gap=t.maybe("gap", risk.gap), impact=impact(t, risk))


def _targets(t: Catalogue, data: ReportData) -> str | None:
    set_ = [s for s in data.statuses if s.rag != "none"]
    if not set_:
        return t("exec.no_targets")
    missed = [s for s in set_ if s.rag != "green"]
    text = t("exec.targets", met=len(set_) - len(missed), total=len(set_))
    if missed:
        text += t("exec.targets_missed", kpis=join(t, [t("exec.kpi_target", kpi=t(f"kpi.{s.key}"),
                                                          value=t.pct(s.value), target=t.pct(s.target),
                                                          rag=t(f"rag.{s.rag}")) for s in missed]))
    return text


def _weakest(t: Catalogue, data: ReportData) -> str | None:
    weak = data.status.get("detection")
    if weak is None or weak.weakest is None:
        return None
    return t("exec.weakest", group=weak.weakest.group, percent=t.pct(weak.weakest.percent),
             overall=t.pct(weak.value))


def _actions(t: Catalogue, data: ReportData) -> str | None:
    tr = data.tracking
    if tr.quarter is None:
        return t("exec.no_plan")
    return t("exec.actions", due=tr.due, done=tr.count("done", "done-late"), late=tr.count("late"),
             dropped=tr.count("dropped", "removed"), open=tr.count("on-track"))


def executive_summary(data: ReportData, t: Catalogue) -> ExecSummary:
    s = data.status
    headline = t("exec.headline", quarter=t.quarter(data.quarter), institution=data.summary.scope.institution,
                 detection=t.pct(s["detection"].value), visibility=t.pct(s["visibility"].value),
                 blocking=t.pct(s["blocking"].value), validated=t.pct(s["validated"].value),
                 techniques=data.summary.scope.techniques_in_scope)
    improved = worse = None
    last = data.changes[-1] if data.changes else None
    if last is not None and last.previous is not None:
        up, down = moved(last.points, True), moved(last.points, False)
        since = t.quarter(last.previous)
        if up:
            why = join(t, _reasons(t, last, True))
            improved = t("exec.improved", since=since, kpis=kpi_moves(t, up)) + (t("exec.because", why=why)
                                                                                 if why else t("exec.end"))
        why_down = join(t, _reasons(t, last, False))
        if down:
            worse = t("exec.worse", since=since, kpis=kpi_moves(t, down)) + (t("exec.because", why=why_down)
                                                                            if why_down else t("exec.end"))
        elif why_down:
            worse = t("exec.worse_none", since=since, why=why_down)
        if not up and not down and not why_down:
            improved = t("exec.unchanged", since=since)
    elif last is not None:
        improved = t("exec.first_quarter")
    risks = tuple(risk_sentence(t, i + 1, r) for i, r in enumerate(data.risks[:3]))
    return ExecSummary(headline, improved, worse, _targets(t, data), _weakest(t, data), _actions(t, data), risks)
