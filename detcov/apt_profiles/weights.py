"""Threat weight per technique: how many of the profile's groups use it, and how strongly we believe it.

For each group and technique, the group contributes once, with its *strongest* route::

    contribution = group weight × provenance weight(route) × technique weight(source) × recency(route date)

and a technique's weight is the sum of its groups' contributions. With every weight 1 and no recency, the
weight is simply the number of groups using the technique (DeTT&CT's group heat-map score). Defaults make
direct use and campaign use count fully and software-derived use half, because a tool's whole technique list
is attributed to every group that uses it (APT41 on 18.1: 82 direct vs 222 over all routes).

Options: provenance weights (0 drops a route), recency half-life (years, against ``reference_date`` or the
newest relationship date in the profile), and sub-technique → parent roll-up (a group using T1059.001
then also counts for T1059; sub-techniques keep their own entries). Forced techniques get at least their
weight floor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import Field, field_validator

from detcov.apt_profiles.model import ForcedTechnique, GroupUse, Profile
from detcov.attack import AttackKB
from detcov.attack.model import Provenance, Tactic
from detcov.userfiles import UserModel

DEFAULT_PROVENANCE_WEIGHTS: dict[Provenance, float] = {
    Provenance.DIRECT: 1.0,
    Provenance.CAMPAIGN: 1.0,
    Provenance.SOFTWARE: 0.5,
    Provenance.CAMPAIGN_SOFTWARE: 0.5,
}


class WeightOptions(UserModel):
    """How technique weights are computed from a profile (also usable as a block of a scan config)."""

    provenance: dict[Provenance, float] = Field(default_factory=lambda: dict(DEFAULT_PROVENANCE_WEIGHTS))
    rollup: bool = False
    recency_half_life: float | None = Field(None, gt=0, description="years; None = no recency decay")
    reference_date: date | None = None

    @field_validator("provenance", mode="before")
    @classmethod
    def _fill_defaults(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {**{p.value: w for p, w in DEFAULT_PROVENANCE_WEIGHTS.items()}, **value}
        return value

    @field_validator("provenance")
    @classmethod
    def _non_negative(cls, value: dict[Provenance, float]) -> dict[Provenance, float]:
        bad = [p.value for p, w in value.items() if w < 0]
        if bad:
            raise ValueError(f"provenance weights must be >= 0 ({', '.join(bad)})")
        return value

    @classmethod
    def counts(cls, provenances: tuple[Provenance, ...] = tuple(Provenance)) -> WeightOptions:
        """Every listed route weighs 1, the others 0: weights become plain group counts."""
        return cls(provenance={p: 1.0 if p in provenances else 0.0 for p in Provenance})


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one group adds to a technique's weight."""

    group: str  # ProfileGroup.key
    weight: float
    provenance: Provenance  # the strongest route
    routes: frozenset[Provenance]  # every route by which the group reaches the technique
    modified: str  # newest relationship date among those routes ("" when unknown)


@dataclass(frozen=True, slots=True)
class TechniqueWeight:
    technique: str
    weight: float
    contributions: tuple[Contribution, ...]  # strongest first
    forced: ForcedTechnique | None = None

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(c.group for c in self.contributions)

    @property
    def count(self) -> int:
        return len(self.contributions)

    @property
    def provenance(self) -> dict[Provenance, int]:
        """Groups per route (a group reaching the technique by two routes counts under both)."""
        return {p: sum(p in c.routes for c in self.contributions) for p in Provenance}


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _reference(profile: Profile, options: WeightOptions) -> date | None:
    if options.reference_date is not None:
        return options.reference_date
    days = [d for g in profile.groups for u in g.uses if (d := _day(u.modified))]
    return max(days, default=None)


def _recency(modified: str, reference: date | None, half_life: float | None) -> float:
    if half_life is None or reference is None:
        return 1.0
    day = _day(modified)
    if day is None:
        return 1.0
    age_years = max((reference - day).days, 0) / 365.25
    return float(0.5 ** (age_years / half_life))


def _targets(use: GroupUse, kb: AttackKB, rollup: bool) -> tuple[str, ...]:
    if rollup:
        t = kb.technique(use.technique)
        if t is not None and t.parent:
            return use.technique, t.parent
    return (use.technique,)


def _group_contributions(uses: tuple[GroupUse, ...], key: str, group_weight: float, kb: AttackKB,
                         options: WeightOptions, reference: date | None) -> dict[str, Contribution]:
    best: dict[str, Contribution] = {}
    for use in uses:
        route = options.provenance.get(use.provenance, 0.0)
        if route <= 0:
            continue
        w = group_weight * route * use.weight * _recency(use.modified, reference, options.recency_half_life)
        for tid in _targets(use, kb, options.rollup):
            old = best.get(tid)
            if old is None:
                best[tid] = Contribution(key, w, use.provenance, frozenset((use.provenance,)), use.modified)
                continue
            stronger = w > old.weight
            best[tid] = Contribution(key, max(w, old.weight), use.provenance if stronger else old.provenance,
                                     old.routes | {use.provenance}, max(old.modified, use.modified))
    return best


def compute_weights(profile: Profile, kb: AttackKB, options: WeightOptions) -> dict[str, TechniqueWeight]:
    """Technique id -> :class:`TechniqueWeight`, highest weight first (ties by id)."""
    reference = _reference(profile, options)
    per_technique: dict[str, list[Contribution]] = {}
    for group in profile.groups:
        found = _group_contributions(group.uses, group.key, group.weight, kb, options, reference)
        for tid, contribution in found.items():
            per_technique.setdefault(tid, []).append(contribution)
    forced = {f.technique: f for f in profile.forced}
    out: dict[str, TechniqueWeight] = {}
    for tid in per_technique.keys() | forced.keys():
        contributions = tuple(sorted(per_technique.get(tid, ()), key=lambda c: (-c.weight, c.group)))
        total = sum(c.weight for c in contributions)
        f = forced.get(tid)
        out[tid] = TechniqueWeight(tid, max(total, f.weight) if f else total, contributions, f)
    return dict(sorted(out.items(), key=lambda kv: (-kv[1].weight, kv[0])))


@dataclass(frozen=True, slots=True)
class TacticShare:
    tactic: Tactic
    techniques: int  # techniques of the profile in this tactic
    weight: float  # sum of their weights


def tactic_distribution(weights: Mapping[str, TechniqueWeight], kb: AttackKB) -> list[TacticShare]:
    """Per tactic (matrix order): how many of the weighted techniques sit there, and their summed weight.

    A technique in several tactics counts in each.
    """
    count: dict[str, int] = {}
    total: dict[str, float] = {}
    for tid, tw in weights.items():
        t = kb.technique(tid)
        for tactic in t.tactics if t else ():
            count[tactic] = count.get(tactic, 0) + 1
            total[tactic] = total.get(tactic, 0.0) + tw.weight
    return [TacticShare(t, count.get(t.shortname, 0), total.get(t.shortname, 0.0)) for t in kb.tactics]
