"""What changed between two recorded quarters: techniques gained / lost per view, scope, rules, devices, KPIs.

Technique ids of both quarters are passed through the id normaliser of the newer quarter's ATT&CK version when
that knowledge base is available (a technique revoked since the older scan counts under its replacement, and the
normaliser applies the v18 ↔ v19+ crosswalk). Without it, quarters on either side of the crosswalk (e.g. 18.1 and
19.0) are compared through the crosswalk table alone (old ids → their v19+ ids); otherwise ids are compared as
written and :attr:`HistoryDiff.versions_differ` tells the reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from detcov.attack import AttackKB
from detcov.attack.crosswalk import Crosswalk, load_crosswalk
from detcov.outputs.history.snapshot import DeviceRow, RuleRow, Snapshot, TechniqueRow

VIEWS = ("visibility", "detection", "prevention", "validated")
BROKEN_HEALTH = frozenset({"missing-log-source", "unknown-technique", "unmapped"})
PROVEN = frozenset({"detected", "blocked"})
Mapper = Callable[[str], str]
R = TypeVar("R")


def covered(row: TechniqueRow, view: str) -> bool:
    """Does the technique count as covered in this view (score >= 1; validated = detected or blocked)?"""
    if view == "validated":
        return row.validated in PROVEN
    return int(getattr(row, view)) >= 1


def health_bucket(health: str) -> str:
    """healthy | broken | disabled | unverified: how the report groups a rule's health outcome."""
    if health in ("healthy", "disabled"):
        return health
    return "broken" if health in BROKEN_HEALTH else "unverified"


@dataclass(frozen=True, slots=True)
class ViewChange:
    view: str
    gained: tuple[str, ...]
    lost: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HistoryDiff:
    old: str
    new: str
    old_attack: str | None
    new_attack: str | None
    normalised_with: str | None  # ATT&CK version whose id normaliser mapped the ids (or "18.1 → 19.0 crosswalk");
    # None = compared as written
    renamed: tuple[tuple[str, str], ...]  # (old id, current id) for ids revoked since
    views: tuple[ViewChange, ...]
    scope_added: tuple[str, ...]
    scope_removed: tuple[str, ...]
    rules_added: tuple[RuleRow, ...]
    rules_removed: tuple[RuleRow, ...]
    rules_broken: tuple[RuleRow, ...]  # broken now, healthy or absent before
    rules_fixed: tuple[RuleRow, ...]  # broken before, healthy now
    devices_added: tuple[DeviceRow, ...]
    devices_removed: tuple[DeviceRow, ...]
    kpi_change: dict[str, float]  # threat-weighted percentage points, new - old

    @property
    def versions_differ(self) -> bool:
        return self.old_attack != self.new_attack

    def view(self, name: str) -> ViewChange:
        return next(v for v in self.views if v.view == name)


def version_key(version: str | None) -> tuple[int, ...]:
    if not version:
        return ()
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return ()


def crosses(old: str | None, new: str | None, crosswalk: Crosswalk) -> bool:
    """Are the two ATT&CK versions on different sides of the crosswalk (one before v19, one from it)?"""
    first = version_key(crosswalk.newer)
    keys = [version_key(v) for v in (old, new)]
    return all(keys) and (keys[0] < first) != (keys[1] < first)


def id_mapper(kb: AttackKB | None, old: str | None = None, new: str | None = None) -> tuple[Mapper, str | None]:
    """Technique id → current id through ``kb`` (unusable ids stay as written). Without a kb: through the crosswalk
    table when the versions ``old`` and ``new`` straddle it, else the identity."""
    if kb is None:
        table = load_crosswalk()
        if not crosses(old, new, table):
            return (lambda tid: tid), None
        forward = {old_id: p.new for old_id, p in table.to_newer.items()}
        return (lambda tid: forward.get(tid, tid)), f"{table.older} → {table.newer} crosswalk"

    def current(tid: str) -> str:
        return kb.resolve(tid).current or tid

    return current, kb.version


def _ids(rows: Iterable[TechniqueRow], keep: Callable[[TechniqueRow], bool], mapper: Mapper) -> set[str]:
    return {mapper(r.technique) for r in rows if keep(r)}


def _covered_ids(rows: Iterable[TechniqueRow], view: str, mapper: Mapper) -> set[str]:
    return {mapper(r.technique) for r in rows if covered(r, view)}


def _by_key(rows: Iterable[R], key: Callable[[R], str]) -> dict[str, R]:
    return {key(r): r for r in rows}


def _rule_changes(old: Snapshot, new: Snapshot) -> tuple[tuple[RuleRow, ...], ...]:
    before = _by_key(old.rules, lambda r: r.rule_id)
    after = _by_key(new.rules, lambda r: r.rule_id)
    added = tuple(r for k, r in after.items() if k not in before)
    removed = tuple(r for k, r in before.items() if k not in after)
    broken = tuple(r for k, r in after.items() if health_bucket(r.health) == "broken"
                   and (k not in before or health_bucket(before[k].health) != "broken"))
    fixed = tuple(r for k, r in after.items() if k in before and health_bucket(before[k].health) == "broken"
                  and health_bucket(r.health) == "healthy")
    return added, removed, broken, fixed


def _kpi_change(old: Snapshot, new: Snapshot) -> dict[str, float]:
    a, b = old.summary.kpis, new.summary.kpis
    return {k: round(getattr(b, k).weighted_percent - getattr(a, k).weighted_percent, 1)
            for k in ("visibility", "detection", "blocking", "validated")}


def diff_snapshots(old: Snapshot, new: Snapshot, kb: AttackKB | None = None) -> HistoryDiff:
    """The change from ``old`` to ``new`` (see the module docstring for how ids are compared)."""
    mapper, normalised_with = id_mapper(kb, old.attack_version, new.attack_version)
    renamed = tuple(sorted({(r.technique, m) for r in old.techniques if (m := mapper(r.technique)) != r.technique}))
    views = []
    for view in VIEWS:
        a = _covered_ids(old.techniques, view, mapper)
        b = _covered_ids(new.techniques, view, mapper)
        views.append(ViewChange(view, tuple(sorted(b - a)), tuple(sorted(a - b))))
    scope_a = _ids(old.techniques, lambda r: r.in_scope, mapper)
    scope_b = _ids(new.techniques, lambda r: r.in_scope, mapper)
    added, removed, broken, fixed = _rule_changes(old, new)
    dev_a = _by_key(old.devices, lambda d: d.device)
    dev_b = _by_key(new.devices, lambda d: d.device)
    return HistoryDiff(
        old.quarter, new.quarter, old.attack_version, new.attack_version, normalised_with, renamed, tuple(views),
        tuple(sorted(scope_b - scope_a)), tuple(sorted(scope_a - scope_b)), added, removed, broken, fixed,
        tuple(d for k, d in dev_b.items() if k not in dev_a), tuple(d for k, d in dev_a.items() if k not in dev_b),
        _kpi_change(old, new),
    )
