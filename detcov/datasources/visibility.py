"""Visibility scores (DeTT&CT's 0-4 scale) per technique × system group, each with its explanation.

What ATT&CK says a technique needs is split into *aspects*: on v18 one per analytic (its own platform, the
data components of its log-source references); on v17 one per platform (the data components that ``detects``
it there). Only aspects on the group's platforms count (DeTT&CT on v18 unions all analytics of all platforms).

    quality(component)  = best data-quality factor (0..1) of the SIEM devices delivering it to the group
    coverage(aspect)    = mean quality over the aspect's components
    coverage(technique) = mean coverage over its aspects on the group's platforms
    score               = 0 if nothing is delivered, else DeTT&CT's bands:
                          <50 % → 1, <75 % → 2, <100 % → 3, 100 % → 4

Adding a device or raising a quality never lowers a score (max, then means). Manual scores from the
technique-scores file are applied on top by the coverage engine, not here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

import numpy as np

from detcov.attack import AttackKB
from detcov.attack.model import DetectionModel, Technique
from detcov.datasources.catalog import Catalog, component_index
from detcov.datasources.inventory import GroupTelemetry, Inventory

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Aspect:
    """One thing ATT&CK says to look at: an analytic (v18) or a platform's data-component set (v17)."""

    analytic: str | None
    platform: str | None
    components: tuple[str, ...]  # STIX ids, sorted


@dataclass(frozen=True, slots=True)
class ComponentCredit:
    """One required component in one group and platform: who delivers it, at what quality, or what would."""

    component: str  # STIX id
    label: str  # DC0032 Process Creation / Process: Process Creation
    platform: str | None
    quality: float  # best delivering device, 0..1 (0: not delivered)
    devices: tuple[str, ...]  # SIEM devices delivering it
    not_in_siem: tuple[str, ...]  # deployed devices that have it but whose logs do not reach the SIEM
    provided_by: tuple[str, ...]  # catalogue types that provide it (hint for what to add)
    quality_known: bool = True
    cap: str = ""  # why the best device's quality is capped (failed critical data-quality dimension)

    @property
    def present(self) -> bool:
        return self.quality > 0


@dataclass(frozen=True, slots=True)
class AspectCredit:
    analytic: str | None
    platform: str | None
    coverage: float
    components: tuple[ComponentCredit, ...]


@dataclass(frozen=True, slots=True)
class VisibilityScore:
    technique: str
    system_group: str
    platforms: tuple[str, ...]  # the group's platforms this technique runs on
    score: int  # 0..4 (DeTT&CT visibility scale)
    coverage: float  # 0..1
    _context: _GroupContext = field(repr=False, compare=False)

    @property
    def aspects(self) -> tuple[AspectCredit, ...]:
        """Per analytic (v18) / platform (v17): coverage and the components behind it; empty: not applicable.

        Built on first use (scoring itself only needs the numbers), then shared."""
        return self._context.aspect_credits(self.technique, self.platforms)

    @property
    def applicable(self) -> bool:
        return bool(self.aspects)

    @property
    def components(self) -> tuple[ComponentCredit, ...]:
        seen: dict[tuple[str, str | None], ComponentCredit] = {}
        for a in self.aspects:
            for c in a.components:
                seen.setdefault((c.component, c.platform), c)
        return tuple(seen.values())

    @property
    def present(self) -> tuple[ComponentCredit, ...]:
        return tuple(c for c in self.components if c.present)

    @property
    def missing(self) -> tuple[ComponentCredit, ...]:
        return tuple(c for c in self.components if not c.present)

    @property
    def devices(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d for c in self.components for d in c.devices))

    @property
    def analytics(self) -> tuple[str, ...]:
        return tuple(a.analytic for a in self.aspects if a.analytic and a.coverage > 0)

    def explain(self) -> str:
        """One paragraph a SOC engineer can check: what counted, from which device, what is missing."""
        if not self.aspects:
            return (f"not applicable: ATT&CK names no telemetry for {self.technique} on "
                    f"{', '.join(self.platforms)}")
        parts = [f"score {self.score} ({self.coverage:.0%} of {len(self.aspects)} "
                 f"{'analytic' if self.aspects[0].analytic else 'platform'} aspect(s))"]
        if self.present:
            parts.append("present: " + "; ".join(_present_text(c) for c in self.present))
        if self.missing:
            parts.append("missing: " + "; ".join(_missing_text(c) for c in self.missing))
        credited = [f"{a.analytic} {a.coverage:.0%}" for a in self.aspects if a.analytic]
        if credited:
            parts.append("analytics: " + ", ".join(credited))
        return " | ".join(parts)


def _present_text(c: ComponentCredit) -> str:
    assumed = "" if c.quality_known else ", quality assumed"
    capped = f", capped: {c.cap}" if c.cap else ""
    return f"{c.label} [{', '.join(c.devices)}; q={c.quality:.2f}{assumed}{capped}]"


def _missing_text(c: ComponentCredit) -> str:
    text = c.label
    if c.not_in_siem:
        text += f" (deployed on {', '.join(c.not_in_siem)} but not in the SIEM)"
    elif c.provided_by:
        text += f" (add: {', '.join(c.provided_by[:3])})"
    return text


def score_band(coverage: float) -> int:
    """DeTT&CT's visibility bands over the share of needed telemetry that is delivered."""
    if coverage <= _EPS:
        return 0
    if coverage < 0.5 - _EPS:
        return 1
    if coverage < 0.75 - _EPS:
        return 2
    if coverage < 1 - _EPS:
        return 3
    return 4


@dataclass(frozen=True)
class _PlatformIndex:
    """All aspects on one platform as a matrix: row = aspect, column = component, weight 1/len(components)."""

    weights: np.ndarray  # (aspects, components)
    technique_rows: np.ndarray  # technique index of each aspect


@dataclass(frozen=True)
class _KBIndex:
    aspects: dict[str, tuple[Aspect, ...]]  # technique id -> aspects
    techniques: tuple[Technique, ...]
    columns: dict[str, int]  # component STIX id -> column
    platforms: dict[str, _PlatformIndex]
    runs_on: dict[str, np.ndarray]  # platform -> bool mask over techniques


_INDEX: WeakKeyDictionary[AttackKB, _KBIndex] = WeakKeyDictionary()


def technique_aspects(kb: AttackKB) -> dict[str, tuple[Aspect, ...]]:
    """Technique id -> its aspects (cached per knowledge base; independent of any inventory)."""
    return _kb_index(kb).aspects


def _kb_index(kb: AttackKB) -> _KBIndex:
    index = _INDEX.get(kb)
    if index is None:
        index = _INDEX[kb] = _build_index(kb)
    return index


def _build_index(kb: AttackKB) -> _KBIndex:
    techniques = tuple(kb.techniques())
    aspects = {t.id: _aspects(kb, t.id) for t in techniques}
    needed = {dc for a in aspects.values() for x in a for dc in x.components}
    columns = {dc: i for i, dc in enumerate(sorted(needed))}
    rows: dict[str, list[tuple[int, Aspect]]] = defaultdict(list)
    for ti, t in enumerate(techniques):
        for a in aspects[t.id]:
            for p in ([a.platform] if a.platform else t.platforms):
                rows[p].append((ti, a))
    platforms = {}
    for p, items in rows.items():
        weights = np.zeros((len(items), max(len(columns), 1)))
        for r, (_, a) in enumerate(items):
            for dc in a.components:
                weights[r, columns[dc]] = 1.0 / len(a.components)
        platforms[p] = _PlatformIndex(weights, np.array([ti for ti, _ in items], dtype=np.intp))
    all_platforms = {p for t in techniques for p in t.platforms}
    runs_on = {p: np.array([p in t.platforms for t in techniques], dtype=bool) for p in all_platforms}
    return _KBIndex(aspects, techniques, columns, platforms, runs_on)


def _aspects(kb: AttackKB, tid: str) -> tuple[Aspect, ...]:
    groups: dict[tuple[str | None, str | None], set[str]] = defaultdict(set)
    analytic_model = kb.detection_model is DetectionModel.ANALYTICS
    for ref in kb.detection_refs(tid):
        key = (ref.analytic, ref.platform) if analytic_model and ref.analytic else (None, ref.platform)
        groups[key].add(ref.data_component)
    return tuple(Aspect(an, p, tuple(sorted(dcs))) for (an, p), dcs in sorted(groups.items(), key=str))


class _GroupContext:
    """One system group's telemetry; builds (and shares) the explanation objects on demand."""

    def __init__(self, kb: AttackKB, gt: GroupTelemetry, hints: Mapping[str, tuple[str, ...]]) -> None:
        self.kb, self.gt, self.hints = kb, gt, hints
        self.credits: dict[tuple[str, str | None], ComponentCredit] = {}
        self.explained: dict[str, tuple[AspectCredit, ...]] = {}

    def credit(self, dc: str, platform: str | None) -> ComponentCredit:
        key = (dc, platform)
        found = self.credits.get(key)
        if found is None:
            found = self.credits[key] = self._make(dc, platform)
        return found

    def _make(self, dc: str, platform: str | None) -> ComponentCredit:
        platforms = [platform] if platform else list(self.gt.group.platforms)
        deliveries = [d for p in platforms for d in self.gt.deliveries(dc, p)]
        best = max(deliveries, key=lambda d: d.quality, default=None)
        idle = [n for p in platforms for n in self.gt.not_in_siem.get(p, {}).get(dc, ())]
        component = self.kb.data_component(dc)
        return ComponentCredit(
            dc, component.label if component else dc, platform, best.quality if best else 0.0,
            tuple(dict.fromkeys(d.device for d in deliveries)), tuple(dict.fromkeys(idle)),
            self.hints.get(dc, ()), best.quality_known if best else True, best.cap if best else "")

    def aspect_credits(self, tid: str, platforms: tuple[str, ...]) -> tuple[AspectCredit, ...]:
        found = self.explained.get(tid)
        if found is None:
            aspects = technique_aspects(self.kb).get(tid, ())
            found = self.explained[tid] = tuple(
                self._aspect(a, p) for a in aspects
                for p in ([a.platform] if a.platform else platforms) if p in platforms)
        return found

    def _aspect(self, a: Aspect, platform: str) -> AspectCredit:
        comps = tuple(self.credit(dc, platform) for dc in a.components)
        coverage = sum(c.quality for c in comps) / len(comps) if comps else 0.0
        return AspectCredit(a.analytic, platform, coverage, comps)

    def quality_vector(self, platform: str, columns: Mapping[str, int]) -> np.ndarray:
        q = np.zeros(max(len(columns), 1))
        for dc, deliveries in self.gt.components.get(platform, {}).items():
            col = columns.get(dc)
            if col is not None:
                q[col] = max(d.quality for d in deliveries)
        return q


def score_visibility(kb: AttackKB, inventory: Inventory, catalog: Catalog, platform: str | None = None, *,
                     telemetry: Mapping[str, GroupTelemetry] | None = None) -> list[VisibilityScore]:
    """Visibility of every active technique in every system group whose platforms it runs on.

    ``platform`` keeps only the groups with that platform and scores on that platform alone. Pure: the same
    inputs give the same scores; nothing is read or written. Explanations are built when first read.
    """
    index = _kb_index(kb)
    hints = component_index(catalog, kb)
    out: list[VisibilityScore] = []
    groups = telemetry if telemetry is not None else inventory.group_telemetry(kb, catalog)
    for name, gt in groups.items():
        group_platforms = tuple(p for p in gt.group.platforms if platform is None or p == platform)
        if group_platforms:
            out.extend(_score_group(index, _GroupContext(kb, gt, hints), name, group_platforms))
    return out


def _score_group(index: _KBIndex, ctx: _GroupContext, name: str, platforms: tuple[str, ...]
                 ) -> list[VisibilityScore]:
    n = len(index.techniques)
    total, count = np.zeros(n), np.zeros(n)
    runs = np.zeros(n, dtype=bool)
    for p in platforms:
        if p in index.runs_on:
            runs |= index.runs_on[p]
        pi = index.platforms.get(p)
        if pi is None or not len(pi.technique_rows):
            continue
        coverage = pi.weights @ ctx.quality_vector(p, index.columns)
        total += np.bincount(pi.technique_rows, weights=coverage, minlength=n)
        count += np.bincount(pi.technique_rows, minlength=n)
    mean = np.minimum(np.divide(total, count, out=np.zeros(n), where=count > 0), 1.0)
    bands = np.select([mean <= _EPS, mean < 0.5 - _EPS, mean < 0.75 - _EPS, mean < 1 - _EPS], [0, 1, 2, 3], 4)
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}
    out = []
    rows = np.flatnonzero(runs).tolist()
    for i, cov, band in zip(rows, mean[rows].tolist(), bands[rows].tolist(), strict=True):
        t = index.techniques[i]
        on = shared.get(t.platforms)
        if on is None:
            on = shared[t.platforms] = tuple(p for p in platforms if p in t.platforms)
        out.append(VisibilityScore(t.id, name, on, band, cov, ctx))
    return out


def best_by_technique(scores: Iterable[VisibilityScore]) -> dict[str, VisibilityScore]:
    """The highest score of each technique over the system groups (ties: the first group)."""
    best: dict[str, VisibilityScore] = {}
    for s in scores:
        if s.technique not in best or s.score > best[s.technique].score:
            best[s.technique] = s
    return best
