"""The report's tables, defined once: the HTML template renders them and ``report.xlsx`` holds the same rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from detcov.outputs.history.store import KPI_NAMES
from detcov.outputs.report.i18n import Catalogue
from detcov.outputs.report.model import HEALTH_BUCKETS, ReportData

Cell = str | int | float
MAX_IDS = 40


@dataclass(frozen=True, slots=True)
class ReportTable:
    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows), columns=list(self.columns))


def _table(key: str, title: str, columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> ReportTable:
    return ReportTable(key, title, tuple(columns), tuple(tuple(r) for r in rows))


def _ids(ids: Sequence[str]) -> str:
    return ", ".join(ids[:MAX_IDS]) + (f" … (+{len(ids) - MAX_IDS})" if len(ids) > MAX_IDS else "")


def kpi_table(data: ReportData, t: Catalogue) -> ReportTable:
    na = t("na")
    rows = [(t(f"kpi.{c.key}"), c.covered, c.total, c.percent, c.weighted_percent,
             na if c.vs_previous.points is None else c.vs_previous.points,
             na if c.vs_year.points is None else c.vs_year.points) for c in data.cards]
    prev, year = data.previous or na, data.year_ago or na
    return _table("kpis", t("sheet.kpis"), [t("col.item"), t("col.techniques"), t("col.value"), "%",
                                           f"% ({t('kpi.weighted')})", t("kpi.vs_previous", quarter=prev),
                                           t("kpi.vs_year", quarter=year)], rows)


def trend_table(data: ReportData, t: Catalogue) -> ReportTable:
    rows = [(q, s.attack.version or "", s.scope.devices, s.scope.rules,
             *(getattr(s.kpis, k).weighted_percent for k in KPI_NAMES)) for q, s in data.trend]
    return _table("trends", t("sheet.trends"), [t("col.quarter"), t("col.attack_version"), t("col.devices"),
                                               t("col.rules"), *(t(f"col.{k}") for k in KPI_NAMES)], rows)


def tactic_table(data: ReportData, t: Catalogue) -> ReportTable:
    rows = [(f"{k.tactic} {k.name}", k.techniques, k.visibility, k.detection, k.blocking, k.weighted_detection)
            for k in data.summary.per_tactic]
    return _table("tactics", t("section.tactics"), [t("col.tactic"), t("col.techniques"), t("col.visibility"),
                                                   t("col.detection"), t("col.blocking"),
                                                   t("col.weighted_detection")], rows)


def group_table(data: ReportData, t: Catalogue) -> ReportTable:
    rows = [(f"{g.group} {g.name}", g.techniques, g.visibility, g.detection, g.blocking)
            for g in data.summary.per_group]
    return _table("groups", t("section.groups"), [t("col.group"), t("col.techniques"), t("col.visibility"),
                                                 t("col.detection"), t("col.blocking")], rows)


def _gap_label(t: Catalogue, gap: str) -> str:
    return t(f"gap.{gap}") if f"gap.{gap}" in t.messages else gap


def gap_table(data: ReportData, t: Catalogue) -> ReportTable:
    rows = [(g.technique, g.name, ", ".join(g.tactics), _gap_label(t, g.gap), g.priority, g.weight, g.visibility,
             g.detection, g.action) for g in data.summary.top_gaps[:10]]
    return _table("gaps", t("section.gaps"), [t("col.technique"), t("col.name"), t("col.tactics"), t("col.gap"),
                                             t("col.priority"), t("col.weight"), t("col.visibility_score"),
                                             t("col.detection_score"), t("col.action")], rows)


def recommendation_table(data: ReportData, t: Catalogue) -> ReportTable:
    keys = ("step", "kind", "target", "gain", "techniques")
    rows = [tuple(str(r.get(k, "")) for k in keys) for r in data.snapshot.extra.get("recommendations", ())[:10]]
    return _table("recommendations", t("section.recommendations"),
                  [t("col.step"), t("col.kind"), t("col.target"), t("col.gain"), t("col.techniques")], rows)


def health_tables(data: ReportData, t: Catalogue) -> list[ReportTable]:
    counts = _table("rule_health", t("section.rule_health"), [t("col.health"), t("col.count")],
                    [(t(f"health.{b}"), data.health[b]) for b in HEALTH_BUCKETS])
    broken = _table("broken_rules", t("health.broken_list"),
                    [t("col.rule"), t("col.title"), t("col.format"), t("col.health"), t("col.missing")],
                    [(r.rule_id, r.title, r.format, r.health, r.missing) for r in data.broken_rules])
    return [counts, broken]


def quality_tables(data: ReportData, t: Catalogue) -> list[ReportTable]:
    issues = _table("data_quality", t("section.data_quality"), [t("col.issue")],
                    [(i,) for i in data.summary.data_quality_issues])
    devices = _table("low_quality", t("quality.low_devices"), [t("col.device"), t("col.type"), t("col.quality")],
                     [(d.device, d.type, d.quality) for d in data.low_quality_devices])
    return [issues, devices]


def validation_table(data: ReportData, t: Catalogue) -> ReportTable:
    yes, no = t("bool.yes"), t("bool.no")
    rows = [(c.technique.technique, c.technique.name, yes if c.claimed else no, c.technique.validated,
             t(f"verdict.{c.verdict}")) for c in data.claims]
    return _table("validation", t("section.validation"), [t("col.technique"), t("col.name"), t("col.claimed"),
                                                         t("col.result"), t("col.verdict")], rows)


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
    title = t("changes.since", quarter=data.previous) if data.previous else t("section.changes")
    return _table("changes", title, [t("col.change"), t("col.count"), t("col.value")], rows)


def method_table(data: ReportData, t: Catalogue) -> ReportTable:
    s = data.summary
    rows = [("method.institution", s.scope.institution),
            ("method.attack", f"{s.attack.version} ({s.attack.domain}, sha256 {s.attack.sha256})"),
            ("method.detection_model", s.attack.detection_model), ("method.profiles", ", ".join(s.scope.profiles)),
            ("method.groups", ", ".join(s.scope.groups)), ("method.in_scope", str(s.scope.techniques_in_scope)),
            ("method.platforms", ", ".join(s.scope.platforms)),
            ("method.system_groups", ", ".join(s.scope.system_groups)), ("method.devices", str(s.scope.devices)),
            ("method.rules", f"{s.scope.rules} ({s.scope.rule_files})"),
            ("method.inventory_sha256", s.scope.inventory_sha256), ("method.rules_sha256", s.scope.rules_sha256),
            ("method.detcov", s.detcov_version), ("method.generated", s.generated_at),
            ("method.quarters", ", ".join(data.quarters_recorded))]
    return _table("method", t("section.method"), [t("col.item"), t("col.value")], [(t(k), v) for k, v in rows])


def report_tables(data: ReportData, t: Catalogue) -> dict[str, ReportTable]:
    """Every table of the report by key, in report order."""
    tables = [kpi_table(data, t), trend_table(data, t), tactic_table(data, t), group_table(data, t),
              gap_table(data, t), recommendation_table(data, t), *health_tables(data, t),
              *quality_tables(data, t), validation_table(data, t), change_table(data, t), method_table(data, t)]
    return {table.key: table for table in tables}
