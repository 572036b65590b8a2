"""History as tables (pandas): KPI trends over quarters and every quarter's per-technique scores."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pandas as pd

from detcov.coverage.summary import Summary
from detcov.outputs.history.history import History
from detcov.outputs.history.store import KPI_NAMES

SCORE_FIELDS = ("in_scope", "weight", "visibility", "detection", "prevention", "validated", "gap", "priority")


def trend_rows(summaries: dict[str, Summary]) -> list[dict[str, object]]:
    """One row per quarter: ATT&CK version, scope counts and every KPI (plain and weighted %)."""
    rows: list[dict[str, object]] = []
    for quarter, s in summaries.items():
        row: dict[str, object] = {"quarter": quarter, "attack_version": s.attack.version or "",
                                  "techniques_in_scope": s.scope.techniques_in_scope, "devices": s.scope.devices,
                                  "rules": s.scope.rules}
        for kpi in KPI_NAMES:
            ratio = getattr(s.kpis, kpi)
            row[f"{kpi}_covered"] = ratio.covered
            row[f"{kpi}_percent"] = ratio.percent
            row[f"{kpi}_weighted_percent"] = ratio.weighted_percent
        rows.append(row)
    return rows


def trend_frame(history: History, quarters: Sequence[str] | None = None) -> pd.DataFrame:
    summaries = history.summaries()
    wanted = list(quarters) if quarters is not None else list(summaries)
    return pd.DataFrame(trend_rows({q: summaries[q] for q in wanted}))


def techniques_frame(history: History, quarters: Sequence[str] | None = None) -> pd.DataFrame:
    """Long format: one row per (quarter, technique) with its scores."""
    rows = []
    for quarter in quarters if quarters is not None else history.quarters():
        for t in history.load(quarter).techniques:
            values = dataclasses.asdict(t)
            rows.append({"quarter": quarter, "technique": t.technique, "name": t.name,
                         **{f: values[f] for f in SCORE_FIELDS}})
    return pd.DataFrame(rows)
