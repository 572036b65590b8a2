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

from collections.abc import Iterator, Mapping, Sequence
from operator import attrgetter

import pandas as pd

from detcov.coverage.engine import ScanResult
from detcov.coverage.kpis import TABLES, rules_table
from detcov.coverage.summary import ROLLUP_RULE
from detcov.outputs.navigator import TechniqueCell, View, cell_band, used_legend, view_scale
from detcov.outputs.portable import scan_namer
from detcov.outputs.views import VIEW_TITLES
from detcov.rules import HealthOutcome, RuleHealth

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
_HEALTH_RANK = {o: HEALTH_ORDER.get(o.value, 0) for o in HealthOutcome}
_RULE_ID = attrgetter("rule.id")
WORKBOOK_ALL_RULES = 20_000  # more rules than this: the workbook's rules sheet keeps those that need work
SHEETS = ("KPIs", "Legend", *TABLES)  # the workbook's tabs, in order


def rules_output(result: ScanResult, healths: Sequence[RuleHealth] | None = None) -> pd.DataFrame:
    """The rules table as written, of ``healths`` (default every rule): rules that need work first (then by id),
    input files named relative to the scan config. Made in that order (no sorted copy of a 100k-row table), and of
    the judged rules alone, so a scan makes it from :func:`~detcov.coverage.engine.read_scan`'s result, before
    scoring."""
    ordered = _in_order(result.healths if healths is None else healths)
    return scan_namer(result.config, result.base).frame(rules_table(result, ordered))


RULES_PART_ROWS = 5_000  # the rules table is made and written in parts this big (100k rules: 20 parts of ~3.5 MB;
# 10,000-row parts cost the scan ~25 MB more at its peak, the two processes together)


def rules_output_parts(result: ScanResult, rows: int = RULES_PART_ROWS) -> Iterator[pd.DataFrame]:
    """:func:`rules_output` of every rule, made ``rows`` rules at a time (for CSV and Parquet: 100,000 rules never
    sit in memory as one 90 MB table); one part at least, for the columns."""
    ordered = _in_order(result.healths)
    namer = scan_namer(result.config, result.base)
    for start in range(0, max(len(ordered), 1), rows):
        yield namer.frame(rules_table(result, ordered[start:start + rows]))


def _in_order(healths: Sequence[RuleHealth]) -> list[RuleHealth]:
    ordered = sorted(healths, key=_RULE_ID)
    ordered.sort(key=lambda h: _HEALTH_RANK[h.outcome])  # stable: by rank, then id (two plain sorts: 4x faster)
    return ordered


def scan_tables(result: ScanResult, tables: Mapping[str, pd.DataFrame], rules: pd.DataFrame | None = None
                ) -> dict[str, pd.DataFrame]:
    """The scan's tables as written (CSV, Parquet and the workbook), from ``tables``
    (:func:`~detcov.coverage.kpis.all_tables` without the rules table): techniques sorted by priority, input files
    named relative to the scan config (:mod:`detcov.outputs.portable`); the rules table is ``rules`` when made
    already, else :func:`rules_output`."""
    namer = scan_namer(result.config, result.base)
    out = {name: namer.frame(frame) for name, frame in tables.items() if name != "rules"}
    out["rules"] = rules if rules is not None else rules_output(result)
    out["techniques"] = sorted_techniques(out["techniques"])
    return {name: out[name] for name in TABLES}


WORK_DONE = frozenset({HealthOutcome.HEALTHY, HealthOutcome.NOT_APPLICABLE})  # what the big rules sheet leaves out


def rules_sheet(result: ScanResult, rules: pd.DataFrame | None = None) -> tuple[pd.DataFrame, str]:
    """The workbook's rules sheet and, when it is not every rule, the Legend's note saying so (``rules``: the rules
    table as written, when made already).

    The workbook is for people: above :data:`WORKBOOK_ALL_RULES` rules its rules sheet keeps the rules that need
    work (:func:`needs_work`: cut from ``rules``, or made of those rules alone); every rule stays in
    ``tables/rules.csv`` and ``rules.parquet``."""
    total = len(result.healths)
    if not cuts_rules_sheet(total):
        return (rules_output(result) if rules is None else rules), ""
    work = needs_work(rules).reset_index(drop=True) if rules is not None else \
        rules_output(result, healths=[h for h in result.healths if h.outcome not in WORK_DONE])
    return work, cut_note(len(work), total)


def cuts_rules_sheet(total: int) -> bool:
    """Does a scan of ``total`` rules get a cut rules sheet (:func:`rules_sheet`)?"""
    return total > WORKBOOK_ALL_RULES


def needs_work(rules: pd.DataFrame) -> pd.DataFrame:
    """The rows of a rules table (or a part of it, as written) that a cut rules sheet keeps: not healthy, where they
    apply; in the same order (a scan's big sheet is made so from the parts of the full table)."""
    return rules[~rules["health"].isin([o.value for o in WORK_DONE])]


def cut_note(shown: int, total: int) -> str:
    return (f"this sheet lists the {shown:,} of {total:,} rules that need work (not healthy, where they apply); "
            "every rule, healthy ones too, is in tables/rules.csv and tables/rules.parquet")


def workbook_sheets(result: ScanResult, tables: Mapping[str, pd.DataFrame],
                    cells: Mapping[View, Mapping[str, TechniqueCell]], targets: Mapping[str, float],
                    rules: tuple[pd.DataFrame, str] | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """The sheets in the order of :data:`SHEETS` (KPIs, Legend, then the tables) and the rows a colour scale may
    cover per sheet; ``rules``: :func:`rules_sheet`, when made already."""
    sheet, note = rules or rules_sheet(result, tables["rules"])
    legend = legend_frame(cells)
    if note:
        legend = pd.concat([legend, pd.DataFrame([{"view": "rules", "colour": "", "label": "rules sheet",
                                                   "meaning": note}])], ignore_index=True)
    sheets = {"KPIs": kpi_frame(result, targets), "Legend": legend, **tables, "rules": sheet}
    return {name: sheets[name] for name in SHEETS}, {"techniques": int(tables["techniques"]["in_scope"].sum())}
