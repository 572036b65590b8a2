"""The expected gain of a rule pack: the scan re-run with the pack's converted rules assumed deployed.

Only rules the backend converted go in (a rule the SIEM cannot run adds nothing); they enter the scan as the
corpus rules they are (technique ids as counted, log sources as written), so rule health, detection scores,
gaps and KPIs are computed by the same engine as the real scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detcov.coverage.engine import ScanResult, run_scan
from detcov.coverage.summary import Ratio, Summary
from detcov.rulepack.model import Converted
from detcov.rules import Rule

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
    """The rules of a pack that the SIEM can run (converted), once each."""
    return list({c.candidate.rule.id: c.candidate.rule for c in converted if c.ok}.values())


def kpi_deltas(before: Summary, after: Summary) -> tuple[KpiDelta, ...]:
    return tuple(KpiDelta(k, getattr(before.kpis, k), getattr(after.kpis, k)) for k in KPI_NAMES)


def compare(before: ScanResult, after: ScanResult, rules: int) -> WhatIf:
    open_classes = {"rule-gap", "broken"}
    was_open = {g.technique for g in before.gaps if g.gap in open_classes}
    still_open = {g.technique for g in after.gaps if g.gap in open_classes}
    b, a = before.summary, after.summary
    return WhatIf(rules, kpi_deltas(b, a), dict(b.gaps), dict(a.gaps), tuple(sorted(was_open - still_open)))


def what_if(config_path: Path, before: ScanResult, converted: Sequence[Converted], *,
            attack_path: Path | None = None, attack_version: str | None = None) -> WhatIf:
    """Re-run the scan of ``config_path`` with the pack deployed and compare it with ``before``."""
    rules = pack_rules(converted)
    after = run_scan(config_path, attack_path=attack_path, attack_version=attack_version, extra_rules=rules)
    return compare(before, after, len(rules))


def whatif_md(result: WhatIf) -> str:
    lines = [
        "# Expected coverage gain (what-if: the pack deployed)", "",
        f"{result.rules} converted rules assumed deployed; the scan re-run with them.", "",
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
