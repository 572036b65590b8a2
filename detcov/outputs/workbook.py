"""What coverage.xlsx holds, in the order a reader needs it: the KPIs, the legend, then the tables sorted by
priority.

* ``KPIs``: each headline KPI (covered / total, %, threat-weighted %, the target from ``fail_under`` and whether
  it is met), the ATT&CK version and the roll-up rule.
* ``Legend``: every colour the layers and heatmaps use (a swatch, its short label, what it means), the score
  columns' colour scale, and the gap classes.
* ``techniques``: in-scope first, by gap priority then threat weight; the score colour scales cover the in-scope
  rows only (an out-of-scope technique with visibility 0 is not a red alarm).
  The scan's own per-group columns (``vis:/det:/blk:/gap:<group>``) stay as they are.
* ``rules``: unhealthy first; ``devices`` as the scan gives it (with DeTT&CT's five data-quality dimensions).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from detcov.coverage.engine import ScanResult
from detcov.coverage.summary import ROLLUP_RULE
from detcov.outputs.navigator import TechniqueCell, View, cell_band, used_legend, view_scale
from detcov.outputs.portable import scan_namer
from detcov.outputs.views import VIEW_TITLES

GAP_MEANINGS = {
    "blind": "no visibility and no rule: onboard the data source first",
    "broken": "rules exist but none counts (disabled, log source not collected, …): fix them",
    "rule-gap": "visible, no rule: write one on the collected log sources",
    "detected": "a healthy rule detects it; a low score still leaves a (smaller) gap",
    "validated": "an attack simulation proved the detection or the blocking",
    "not-observable": "ATT&CK names no telemetry for it in this estate: track it with threat intelligence",
}
SCORE_SCALE_NOTE = ("score columns (visibility, detection, prevention): red = low, yellow = middle, green = high, "
                    "on the in-scope technique rows only")


def kpi_frame(result: ScanResult, targets: Mapping[str, float]) -> pd.DataFrame:
    summary = result.summary
    rows = []
    for name in ("visibility", "detection", "blocking", "validated"):
        r = getattr(summary.kpis, name)
        target = targets.get(name)
        rows.append({"KPI": name, "covered": r.covered, "total": r.total, "percent": r.percent,
                     "weighted_percent": r.weighted_percent, "target": target,
                     "met": "" if target is None else ("yes" if r.percent >= target else "no")})
    rows += [{"KPI": "institution", "covered": None, "total": None, "percent": None, "weighted_percent": None,
              "target": None, "met": summary.scope.institution},
             {"KPI": "ATT&CK", "met": f"{summary.attack.domain} v{summary.attack.version}"},
             {"KPI": "profiles", "met": ", ".join(summary.scope.profiles)},
             {"KPI": "roll-up rule", "met": ROLLUP_RULE}]
    return pd.DataFrame(rows, columns=["KPI", "covered", "total", "percent", "weighted_percent", "target", "met"])


def legend_frame(cells: Mapping[View, Mapping[str, TechniqueCell]]) -> pd.DataFrame:
    """One row per colour each view draws (as its layer's legend), then the score scale and the gap classes."""
    rows = []
    for view, view_cells in cells.items():
        scale = view_scale(view)
        upper = scale.upper(c.score for c in view_cells.values())
        bands = used_legend(view, (cell_band(c, scale, upper) for c in view_cells.values()), scale, upper)
        rows += [{"view": view.value, "colour": b.color, "label": b.label, "meaning": b.meaning or VIEW_TITLES[view]}
                 for b in bands]
    rows.append({"view": "tables", "colour": "", "label": "score colours", "meaning": SCORE_SCALE_NOTE})
    rows += [{"view": "gap class", "colour": "", "label": k, "meaning": v} for k, v in GAP_MEANINGS.items()]
    return pd.DataFrame(rows, columns=["view", "colour", "label", "meaning"])


def sorted_techniques(frame: pd.DataFrame) -> pd.DataFrame:
    order = frame.sort_values(["in_scope", "priority", "weight", "technique"], ascending=[False, False, False, True])
    return order.reset_index(drop=True)


HEALTH_ORDER = {"healthy": 9, "unverified-log-source": 1}
WORKBOOK_ALL_RULES = 20_000  # more rules than this: the workbook's rules sheet keeps those that need work


def scan_tables(result: ScanResult, tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The scan's tables as written (CSV, Parquet and the workbook): techniques and rules sorted by priority,
    input files named relative to the scan config (:mod:`detcov.outputs.portable`)."""
    namer = scan_namer(result.config, result.base)
    out = {name: namer.frame(frame) for name, frame in tables.items()}
    out["techniques"] = sorted_techniques(out["techniques"])
    if not out["rules"].empty:
        rank = out["rules"]["health"].map(lambda h: HEALTH_ORDER.get(h, 0))
        out["rules"] = out["rules"].assign(_r=rank).sort_values(["_r", "rule_id"]).drop(columns="_r")
    return out


def workbook_sheets(result: ScanResult, tables: Mapping[str, pd.DataFrame],
                    cells: Mapping[View, Mapping[str, TechniqueCell]], targets: Mapping[str, float]
                    ) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """The sheets in order (KPIs, Legend, then the tables) and the rows a colour scale may cover per sheet.

    The workbook is for people: above :data:`WORKBOOK_ALL_RULES` rules its rules sheet keeps the rules that need
    work (not healthy, where they apply) and the Legend says so; every rule stays in ``tables/rules.csv`` and
    ``rules.parquet``."""
    rules, legend = tables["rules"], legend_frame(cells)
    if len(rules) > WORKBOOK_ALL_RULES:
        work = rules[~rules["health"].isin(("healthy", "not-applicable"))]
        note = (f"this sheet lists the {len(work):,} of {len(rules):,} rules that need work (not healthy, where "
                "they apply); every rule, healthy ones too, is in tables/rules.csv and tables/rules.parquet")
        rules = work
        legend = pd.concat([legend, pd.DataFrame([{"view": "rules", "colour": "", "label": "rules sheet",
                                                   "meaning": note}])], ignore_index=True)
    sheets = {"KPIs": kpi_frame(result, targets), "Legend": legend, **tables, "rules": rules}
    return sheets, {"techniques": int(tables["techniques"]["in_scope"].sum())}
