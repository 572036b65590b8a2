"""The expected gain of a rule pack: the scan with the pack's rules assumed deployed.

Only rules that would be healthy go in: the backend converted them, they run on at least one system group (the
pipeline's device is there), and detcov's per-group rule health of the rule, as the corpus wrote it and limited to
those groups (``applicable_to``), is healthy in at least one of them. A rule that would not run adds nothing — it
neither detects nor turns a rule gap into a "broken" one.

The after-scan is the first scan re-scored with those rules added (``detcov.coverage.engine.with_extra_rules``: the
inputs the first scan read and judged are reused, only the new rules are judged); the first scan is the "before".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from detcov.coverage.engine import ScanResult, with_extra_rules
from detcov.coverage.summary import Ratio, Summary
from detcov.rulepack.model import Converted
from detcov.rules import Rule, assess

KPI_NAMES = ("visibility", "detection", "blocking", "validated")


@dataclass(frozen=True, slots=True)
class KpiDelta:
    kpi: str
    before: Ratio
    after: Ratio

    @property
    def covered(self) -> int:
        return self.after.covered - self.before.covered

    @property
    def percent(self) -> float:
        return round(self.after.percent - self.before.percent, 1)

    @property
    def weighted_percent(self) -> float:
        return round(self.after.weighted_percent - self.before.weighted_percent, 1)


@dataclass(frozen=True)
class WhatIf:
    """Before/after KPIs, gap counts per class, and the techniques the pack moves out of rule-gap/broken."""

    rules: int
    deltas: tuple[KpiDelta, ...]
    gaps_before: dict[str, int]
    gaps_after: dict[str, int]
    closed: tuple[str, ...]

    def delta(self, kpi: str) -> KpiDelta:
        return next(d for d in self.deltas if d.kpi == kpi)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rules_assumed_deployed": self.rules,
            "kpis": {d.kpi: {"before": d.before.model_dump(), "after": d.after.model_dump(),
                             "covered_delta": d.covered, "percent_delta": d.percent,
                             "weighted_percent_delta": d.weighted_percent} for d in self.deltas},
            "gaps_before": self.gaps_before,
            "gaps_after": self.gaps_after,
            "techniques_closed": list(self.closed),
        }


def pack_rules(converted: Sequence[Converted]) -> list[Rule]:
    """The pack's rules that can run: converted, once each, limited to the system groups where the converted
    query runs (a candidate that names groups but whose pipeline runs on none of them is left out)."""
    out: dict[str, Rule] = {}
    for c in converted:
        groups = c.groups or (() if c.candidate.groups else c.candidate.rule.applicable_to)
        if not c.ok or (c.candidate.groups and not groups):
            continue
        out.setdefault(c.candidate.rule.id, replace(c.candidate.rule, applicable_to=tuple(groups)))
    return list(out.values())


def kpi_deltas(before: Summary, after: Summary) -> tuple[KpiDelta, ...]:
    return tuple(KpiDelta(k, getattr(before.kpis, k), getattr(after.kpis, k)) for k in KPI_NAMES)


def compare(before: ScanResult, after: ScanResult, rules: int) -> WhatIf:
    open_classes = {"rule-gap", "broken"}
    was_open = {g.technique for g in before.gaps if g.gap in open_classes}
    still_open = {g.technique for g in after.gaps if g.gap in open_classes}
    b, a = before.summary, after.summary
    return WhatIf(rules, kpi_deltas(b, a), dict(b.gaps), dict(a.gaps), tuple(sorted(was_open - still_open)))


def healthy_rules(before: ScanResult, rules: Sequence[Rule]) -> list[Rule]:
    """The rules healthy in at least one of their groups (per group × SIEM, as the scan judges its own rules),
    limited to those groups."""
    out = []
    for h in assess(list(rules), before.kb, before.estate.health_scopes):
        groups = tuple(g for g in dict.fromkeys(h.healthy_groups)
                       if not h.rule.applicable_to or g in h.rule.applicable_to)
        if groups:
            out.append(replace(h.rule, applicable_to=groups))
    return out


def what_if(before: ScanResult, converted: Sequence[Converted]) -> WhatIf:
    """The KPIs with the pack's healthy rules deployed, side by side with ``before``'s (re-scored from the first
    scan's inputs: nothing is read or parsed again)."""
    rules = healthy_rules(before, pack_rules(converted))
    return compare(before, with_extra_rules(before, rules), len(rules))


def whatif_md(result: WhatIf) -> str:
    lines = [
        "# Expected coverage gain (what-if: the pack deployed)", "",
        f"{result.rules} converted rules that would be healthy assumed deployed (on the system groups where "
        "they run); the scan re-scored with them.", "",
        "| KPI | before | after | change | weighted before | weighted after | weighted change |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {d.kpi} | {d.before.covered}/{d.before.total} ({d.before.percent:.1f} %) | "
        f"{d.after.covered}/{d.after.total} ({d.after.percent:.1f} %) | {d.percent:+.1f} pts | "
        f"{d.before.weighted_percent:.1f} % | {d.after.weighted_percent:.1f} % | {d.weighted_percent:+.1f} pts |"
        for d in result.deltas
    ]
    classes = sorted(set(result.gaps_before) | set(result.gaps_after))
    lines += ["", "| gap class | before | after |", "|---|---|---|"]
    lines += [f"| {c} | {result.gaps_before.get(c, 0)} | {result.gaps_after.get(c, 0)} |" for c in classes]
    lines += ["", f"Techniques no longer a rule gap: {', '.join(result.closed) or 'none'}", ""]
    return "\n".join(lines)
