"""The sector table as rows a person reads: shares of institutions per technique, the top sector gaps, and the
Sigma candidates :mod:`detcov.rulepack.select` would pick for them.

``gap score`` = financial threat weight × share of institutions blind or without detection on the technique
(each institution counted by its worst scope class). Suppressed techniques (fewer than k institutions) have no
shares and are never a top gap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detcov.attack import AttackKB
from detcov.datasources.telemetry import ANY_PLATFORM, CollectedTelemetry
from detcov.outputs.navigator import TechniqueCell
from detcov.rulepack.model import Candidate
from detcov.sector.merge import Sector, band_columns, count_columns


@dataclass(frozen=True, slots=True)
class SectorTechnique:
    technique: str
    name: str
    tactics: tuple[str, ...]
    weight: float
    members: int
    suppressed: bool
    counts: Mapping[str, int]  # column of merge.count_columns() -> institutions (empty when suppressed)

    def share(self, column: str) -> float | None:
        """Share (0..1) of the technique's institutions counted in ``column``; None when suppressed."""
        if self.suppressed or not self.members:
            return None
        return self.counts.get(column, 0) / self.members

    @property
    def blind(self) -> float | None:
        return self.share("vis_blind")

    @property
    def undetected(self) -> float | None:
        return self.share("det_none")

    @property
    def blind_or_undetected(self) -> float | None:
        return self.share("blind_or_undetected")

    @property
    def gap_score(self) -> float:
        share = self.blind_or_undetected
        return 0.0 if share is None else self.weight * share

    # GapLike, for the rule-pack selector
    @property
    def gap(self) -> str:
        return "rule-gap"

    @property
    def priority(self) -> float:
        return self.gap_score


def technique_rows(sector: Sector, kb: AttackKB) -> list[SectorTechnique]:
    """One row per technique of the sector table, with its ATT&CK name and tactics."""
    out = []
    counted = [c for c, _ in count_columns()]
    for row in sector.techniques:
        tech = kb.technique(row["technique"])
        counts = {} if row["suppressed"] else {c: int(row[c]) for c in counted}
        out.append(SectorTechnique(row["technique"], tech.name if tech else row["technique"],
                                   tech.tactics if tech else (), float(row["weight"] or 0.0), int(row["members"]),
                                   bool(row["suppressed"]), counts))
    return out


def top_gaps(rows: Sequence[SectorTechnique], n: int = 15) -> list[SectorTechnique]:
    """The n largest gap scores among the profile's (weight > 0), unsuppressed techniques."""
    ranked = [r for r in rows if r.weight > 0 and not r.suppressed and r.gap_score > 0]
    return sorted(ranked, key=lambda r: (-r.gap_score, r.technique))[:n]


def weighted_shares(rows: Sequence[SectorTechnique]) -> dict[str, float | None]:
    """Sector-wide shares weighted by the financial threat profile: Σ weight × institutions counted / Σ weight ×
    institutions, over the profile's unsuppressed techniques (None when there are none)."""
    used = [r for r in rows if r.weight > 0 and not r.suppressed]
    total = sum(r.weight * r.members for r in used)
    return {name: (sum(r.weight * r.counts.get(col, 0) for r in used) / total if total else None)
            for name, col in (("blind", "vis_blind"), ("undetected", "det_none"),
                              ("blind_or_undetected", "blind_or_undetected"))}


def band_line(row: SectorTechnique) -> str:
    """``visibility blind 40 / partial 50 / good 10 %; detection none 35 / …`` (percent of institutions)."""
    if row.suppressed:
        return "suppressed (fewer institutions than k)"
    parts: dict[str, list[str]] = {}
    for col, score, _ in band_columns():
        share = row.share(col) or 0.0
        parts.setdefault(score, []).append(f"{col.split('_', 1)[1]} {100 * share:.0f}")
    return "; ".join(f"{score} " + " / ".join(v) + " %" for score, v in parts.items())


def heatmap_cells(rows: Sequence[SectorTechnique], k: int) -> dict[str, TechniqueCell]:
    """Score = percent of institutions blind or without detection; suppressed techniques have no score."""
    cells = {}
    for r in rows:
        share = r.blind_or_undetected
        comment = (f"{r.members} institutions; " + band_line(r)) if share is not None else \
            f"suppressed: {r.members} institution(s), fewer than k={k}"
        meta = (("financial threat weight", f"{r.weight:.2f}"), ("gap score", f"{r.gap_score:.3f}"))
        cells[r.technique] = TechniqueCell(r.technique, None if share is None else round(100 * share, 1), comment,
                                           meta)
    return cells


def sector_telemetry(kb: AttackKB) -> CollectedTelemetry:
    """Every data component on every platform: the sector has no one telemetry, so a candidate only needs a log
    source the mapping tables know (each member then checks its own with ``detcov suggest``)."""
    return CollectedTelemetry(components={ANY_PLATFORM: frozenset(dc.stix_id for dc in kb.data_components())})


def suggestions(kb: AttackKB, gaps: Sequence[SectorTechnique], corpus: Path, per_technique: int = 3
                ) -> dict[str, list[Candidate]]:
    """The Sigma candidates the rule-pack selector picks for each top gap, best first."""
    from detcov.rulepack.select import select_candidates
    from detcov.rules import read_rules

    rules = read_rules([corpus], kb, "sigma").rules
    picked = select_candidates(kb, gaps, sector_telemetry(kb), (), rules, top=per_technique * len(gaps),
                               per_technique=per_technique)
    out: dict[str, list[Candidate]] = {g.technique: [] for g in gaps}
    for cand in picked:
        for tid in cand.techniques:
            if tid in out and len(out[tid]) < per_technique:
                out[tid].append(cand)
    return out


def gap_record(row: SectorTechnique, picks: Sequence[Candidate]) -> dict[str, Any]:
    return {
        "technique": row.technique, "name": row.name, "tactics": list(row.tactics), "weight": row.weight,
        "members": row.members, "blind": row.blind, "undetected": row.undetected,
        "blind_or_undetected": row.blind_or_undetected, "gap_score": round(row.gap_score, 4),
        "suggested_sigma": [{"id": c.sigma_id, "title": c.rule.title, "status": c.rule.raw_status,
                             "level": c.rule.severity, "log_source": c.log_source} for c in picks],
    }
