"""The report's tables, defined once: the HTML template renders them and ``report.xlsx`` holds the same rows.

A table names its id columns (technique / rule / action ids: printed on one line, never wrapped) and its
breakable columns (hashes and paths, which may wrap anywhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from detcov.outputs.history.store import KPI_NAMES
from detcov.outputs.report.board import TACTIC_IDS
from detcov.outputs.report.controls import CONTROLS
from detcov.outputs.report.i18n import Catalogue
from detcov.outputs.report.model import HEALTH_BUCKETS, ReportData
from detcov.outputs.report.narrative import action_text, change_reasons, impact, join, kpi_moves
from detcov.outputs.report.plan import localised_title

Cell = str | int | float
MAX_IDS = 40
SCORES = {"visibility": range(5), "detection": range(-1, 6), "prevention": range(4)}


@dataclass(frozen=True, slots=True)
class ReportTable:
    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    ids: frozenset[int] = frozenset()  # column indexes that hold ids (never wrapped)
    breakable: frozenset[int] = frozenset()  # column indexes that may wrap anywhere (hashes, paths)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows), columns=list(self.columns))


def _table(key: str, title: str, columns: Sequence[str], rows: Sequence[Sequence[Cell]], *,
           ids: Sequence[int] = (), breakable: Sequence[int] = ()) -> ReportTable:
    return ReportTable(key, title, tuple(columns), tuple(tuple(r) for r in rows), frozenset(ids),
                       frozenset(breakable))


def _ids(ids: Sequence[str]) -> str:
    return ", ".join(ids[:MAX_IDS]) + (f" … (+{len(ids) - MAX_IDS})" if len(ids) > MAX_IDS else "")


def tactic_name(t: Catalogue, tactic: str, english: str = "") -> str:
    """A tactic (id or shortname) as this language names it (zh-TW: the Taiwan term, ATT&CK's name in brackets)."""
    short = TACTIC_IDS.get(tactic, tactic)
    return t(f"tactic.{short}") if t.has(f"tactic.{short}") else (english or tactic)


def kpi_table(data: ReportData, t: Catalogue) -> ReportTable:
    rows = []
    for c in data.cards:
        st = data.status[c.key]
        rows.append((t(f"kpi.{c.key}"), t.pct(st.value), t.pct(st.target), t(f"rag.{st.rag}"),
                     t.points(c.vs_previous.points), t.points(c.vs_year.points), c.covered, c.total,
                     t.pct(st.proven), f"{st.weakest.group} {t.pct(st.weakest.percent)}" if st.weakest else t("na")))
    prev = t("kpi.vs_previous", quarter=t.quarter(data.previous)) if data.previous else t("kpi.no_previous")
    year = t("kpi.vs_year", quarter=t.quarter(data.year_ago)) if data.year_ago else t("col.vs_year")
    return _table("kpis", t("sheet.kpis"), [
        t("col.kpi"), t("col.value_weighted"), t("col.target"), t("col.rag"), prev, year, t("col.covered"),
        t("col.in_scope"), t("col.proven"), t("col.weakest")], rows)


def trend_table(data: ReportData, t: Catalogue) -> ReportTable:
    rows = [(t.quarter(q), s.attack.version or "", c.sending, c.devices, f"{c.rules_healthy} / {c.rules}",
             *(getattr(s.kpis, k).weighted_percent for k in KPI_NAMES))
            for (q, s), c in zip(data.trend, data.changes, strict=True)]
    return _table("trends", t("sheet.trends"), [t("col.quarter"), t("col.attack_version"), t("col.sending"),
                                               t("col.devices"), t("col.healthy_rules"),
                                               *(t(f"col.{k}") for k in KPI_NAMES)], rows)


def changelog_table(data: ReportData, t: Catalogue) -> ReportTable:
    rows = []
    for c in data.changes:
        if c.previous is None:
            rows.append((t.quarter(c.quarter), t("changelog.first"), t("changelog.baseline", sending=c.sending,
                                                                        devices=c.devices)))
            continue
        changes = [(k, v) for k, v in c.points.items() if v != 0]
        rows.append((t.quarter(c.quarter), kpi_moves(t, changes) or t("changelog.no_change"),
                     change_reasons(t, c) or t("changelog.no_reason")))
    return _table("changelog", t("section.changelog"), [t("col.quarter"), t("col.kpi_change"), t("col.why")], rows)


def crown_table(data: ReportData, t: Catalogue) -> ReportTable:
    rows = [(g.name, t(f"criticality.{g.criticality}"), t.maybe("kind", g.kind), g.techniques, g.visibility,
             g.detection, g.blocking, g.validated, t.pct(g.detection_proven), g.blind, g.rule_gap, g.broken)
            for g in data.groups or () if g.critical]
    return _table("crown", t("section.crown"), [
        t("col.system_group"), t("col.criticality"), t("col.kind"), t("col.techniques"), t("col.visibility"),
        t("col.detection"), t("col.blocking"), t("col.validated"), t("col.detection_proven"), t("gap.blind"),
        t("gap.rule-gap"), t("gap.broken")], rows)


def risk_table(data: ReportData, t: Catalogue) -> ReportTable:
    rows = [(i + 1, r.technique, r.name, r.group or t("risk.where_estate"), t.maybe("gap", r.gap), impact(t, r),
             action_text(t, r.gap)) for i, r in enumerate(data.risks)]
    return _table("risks", t("section.risks"), [
        t("col.rank"), t("col.technique"), t("col.name"), t("col.system_group"), t("col.gap"), t("col.impact"),
        t("col.action")], rows, ids=(1,))


def risk_detail_table(data: ReportData, t: Catalogue) -> ReportTable:
    """The scanner's own next step per risk, as written (English), with priority and scores: for the workbook."""
    rows = [(r.technique, r.priority, r.weight, r.detail) for r in data.risks]
    return _table("risk_detail", t("sheet.risk_detail"), [t("col.technique"), t("col.priority"), t("col.weight"),
                                                         t("col.detail")], rows, ids=(0,))


def action_table(data: ReportData, t: Catalogue) -> ReportTable:
    rows = []
    names = {r.technique: r.name for r in data.snapshot.techniques}
    for a in data.tracking.actions:
        eff = t("effect.value", covered=a.effect.covered, total=a.effect.total) if a.effect else t("na")
        state = t(f"track.{a.state}") + (f" {t('track.new')}" if a.new else "")
        rows.append((a.action.id, localised_title(t, a.action, names), a.action.owner or t("plan.no_owner"),
                     t.quarter(a.action.due), t(f"status.{a.action.status}"), state, eff))
    return _table("actions", t("section.actions"), [t("col.action_id"), t("col.action"), t("col.owner"),
                                                   t("col.due"), t("col.status"), t("col.tracking"),
                                                   t("col.effect")], rows, ids=(0, 3, 4, 5))


def action_history_table(data: ReportData, t: Catalogue) -> ReportTable:
    quarters = data.tracking.quarters
    rows = [(a.action.id, *(next((t(f"status.{s}") for q2, s in a.statuses if q2 == q), "—") for q in quarters))
            for a in data.tracking.actions]
    return _table("action_history", t("actions.history"), [t("col.action_id"), *(t.quarter(q) for q in quarters)],
                  rows, ids=(0,))


def tactic_table(data: ReportData, t: Catalogue) -> ReportTable:
    rows = [(tactic_name(t, k.tactic, k.name), k.techniques, k.visibility, k.detection, k.blocking,
             k.weighted_detection) for k in data.summary.per_tactic]
    return _table("tactics", t("section.tactics"), [t("col.tactic"), t("col.techniques"), t("col.visibility"),
                                                   t("col.detection"), t("col.blocking"),
                                                   t("col.weighted_detection")], rows)


def distribution_table(data: ReportData, t: Catalogue) -> ReportTable:
    """Techniques in scope per score, per view: what the heatmaps show, legible on paper."""
    scope = [r for r in data.snapshot.techniques if r.in_scope]
    rows = [(t(f"heatmap.{view}"), *(sum(int(getattr(r, view)) == s for r in scope) if s in scores else "—"
                                     for s in range(-1, 6)))
            for view, scores in SCORES.items()]
    return _table("distribution", t("section.distribution"), [t("col.view"), *(str(s) for s in range(-1, 6))],
                  rows)


def group_table(data: ReportData, t: Catalogue) -> ReportTable:
    rows = [(f"{g.group} {g.name}", g.techniques, g.visibility, g.detection, g.blocking)
            for g in data.summary.per_group]
    return _table("groups", t("section.groups"), [t("col.group"), t("col.techniques"), t("col.visibility"),
                                                 t("col.detection"), t("col.blocking")], rows, ids=(0,))


def recommendation_table(data: ReportData, t: Catalogue) -> ReportTable:
    recs = data.snapshot.extra.get("recommendations", ())[:10]
    rows = [(str(r.get("step", "")), t.maybe("reckind", str(r.get("kind", ""))), str(r.get("target", "")),
             str(r.get("gain", "")), str(r.get("techniques", ""))) for r in recs]
    return _table("recommendations", t("section.recommendations"),
                  [t("col.step"), t("col.kind"), t("col.target"), t("col.gain"), t("col.techniques")], rows)


def health_tables(data: ReportData, t: Catalogue) -> list[ReportTable]:
    counts = _table("rule_health", t("section.rule_health"), [t("col.health"), t("col.count")],
                    [(t(f"health.{b}"), data.health[b]) for b in HEALTH_BUCKETS])
    broken = _table("broken_rules", t("health.broken_list"),
                    [t("col.rule"), t("col.title"), t("col.format"), t("col.health"), t("col.missing")],
                    [(r.rule_id, r.title, r.format, t.maybe("health.code", r.health), r.missing)
                     for r in data.broken_rules], ids=(0,))
    return [counts, broken]


def quality_tables(data: ReportData, t: Catalogue) -> list[ReportTable]:
    issues = _table("data_quality", t("section.data_quality"), [t("col.issue")],
                    [(i,) for i in data.summary.data_quality_issues])
    devices = _table("low_quality", t("quality.low_devices"), [t("col.device"), t("col.type"), t("col.quality")],
                     [(d.device, t.maybe("device_type", d.type), d.quality) for d in data.low_quality_devices])
    return [issues, devices]


def validation_table(data: ReportData, t: Catalogue) -> ReportTable:
    yes, no = t("bool.yes"), t("bool.no")
    rows = [(c.technique.technique, c.technique.name, yes if c.claimed else no,
             t.maybe("result", c.technique.validated), t(f"verdict.{c.verdict}")) for c in data.claims]
    return _table("validation", t("section.validation"), [t("col.technique"), t("col.name"), t("col.claimed"),
                                                         t("col.result"), t("col.verdict")], rows, ids=(0,))


def change_table(data: ReportData, t: Catalogue) -> ReportTable:
    d = data.diff
    rows: list[tuple[Cell, ...]] = []
    if d is not None:
        for v in d.views:
            rows.append((f"{t(f'change.view.{v.view}')} — {t('col.gained')}", len(v.gained), _ids(v.gained)))
            rows.append((f"{t(f'change.view.{v.view}')} — {t('col.lost')}", len(v.lost), _ids(v.lost)))
        rows.append((f"{t('change.scope')} — {t('col.gained')}", len(d.scope_added), _ids(d.scope_added)))
        rows.append((f"{t('change.scope')} — {t('col.lost')}", len(d.scope_removed), _ids(d.scope_removed)))
        for key in ("rules_added", "rules_removed", "rules_broken", "rules_fixed"):
            rules = getattr(d, key)
            rows.append((t(f"change.{key}"), len(rules), _ids([f"{r.rule_id} {r.title}" for r in rules])))
        for key in ("devices_added", "devices_removed"):
            devices = getattr(d, key)
            rows.append((t(f"change.{key}"), len(devices), _ids([x.device for x in devices])))
    title = t("changes.since", quarter=t.quarter(data.previous)) if data.previous else t("section.changes")
    return _table("changes", title, [t("col.change"), t("col.number"), t("col.value")], rows)


def control_table(data: ReportData, t: Catalogue) -> ReportTable:
    rows = []
    for c in CONTROLS:
        rags = [data.status[k].rag for k in c.kpis if k in data.status]
        worst = next((r for r in ("red", "amber", "green") if r in rags), None)
        rows.append((t(f"framework.{c.framework}"), c.id, t(f"control.{c.id}"),
                     join(t, [t(f"section.{s}") for s in c.sections]),
                     t(f"rag.{worst}") if worst else t("control.evidence_only")))
    return _table("controls", t("section.controls"), [t("col.framework"), t("col.control"), t("col.requirement"),
                                                     t("col.evidence"), t("col.rag")], rows, ids=(1,))


def csf_table(data: ReportData, t: Catalogue) -> ReportTable:
    rows = [(c.category, t.maybe("csf", c.category) if t.has(f"csf.{c.category}") else c.label, c.statements,
             c.techniques, round(100 * c.detected / c.techniques, 1), round(100 * c.blocked / c.techniques, 1))
            for c in data.csf]
    return _table("csf", t("section.csf"), [t("col.csf_category"), t("col.name"), t("col.statements"),
                                           t("col.techniques"), t("col.detection"), t("col.blocking")], rows,
                  ids=(0,))


def evidence_table(data: ReportData, t: Catalogue) -> ReportTable:
    s, run = data.summary, data.run
    rows = [(t("method.institution"), s.scope.institution),
            (t("method.attack"), f"{s.attack.version} ({s.attack.domain}), sha256 {s.attack.sha256}"),
            (t("method.detection_model"), s.attack.detection_model),
            (t("method.summary_version"), str(data.summary_version)),
            (t("method.profiles"), ", ".join(s.scope.profiles)), (t("method.groups"), ", ".join(s.scope.groups)),
            (t("method.in_scope"), str(s.scope.techniques_in_scope)),
            (t("method.platforms"), ", ".join(s.scope.platforms)),
            (t("method.system_groups"), ", ".join(s.scope.system_groups)),
            (t("method.devices"), str(s.scope.devices)), (t("method.rules"), f"{s.scope.rules} ({s.scope.rule_files})"),
            (t("method.inventory_sha256"), s.scope.inventory_sha256), (t("method.rules_sha256"), s.scope.rules_sha256),
            *((t(f"method.file.{f.kind}"), f"{f.path} sha256 {f.sha256}") for f in run.files),
            (t("method.store"), f"{run.store} sha256 {run.store_sha256}" if run.store else t("na")),
            (t("method.detcov"), s.detcov_version),
            (t("method.generated"), f"{t.date(s.generated_at)} ({s.generated_at})"),
            (t("method.prepared_by"), run.prepared_by or t("na")),
            (t("method.quarters"), join(t, [t.quarter(q) for q in data.quarters_recorded]))]
    return _table("method", t("section.evidence"), [t("col.item"), t("col.value")], rows, breakable=(1,))


def report_tables(data: ReportData, t: Catalogue) -> dict[str, ReportTable]:
    """Every table of the report by key, in report order."""
    tables = [kpi_table(data, t), trend_table(data, t), changelog_table(data, t), crown_table(data, t),
              risk_table(data, t), action_table(data, t), action_history_table(data, t), tactic_table(data, t),
              distribution_table(data, t), group_table(data, t), recommendation_table(data, t),
              *health_tables(data, t), *quality_tables(data, t), validation_table(data, t), change_table(data, t),
              control_table(data, t), csf_table(data, t), evidence_table(data, t), risk_detail_table(data, t)]
    return {table.key: table for table in tables}
