"""Weights match counts computed here, independently, from the raw ATT&CK relationships."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest

from detcov.apt_profiles import (
    DEFAULT_PROVENANCE_WEIGHTS,
    GroupKind,
    GroupUse,
    Profile,
    ProfileGroup,
    WeightOptions,
    load_profile,
    tactic_distribution,
)
from detcov.attack import AttackKB
from detcov.attack.model import Provenance


def _raw_routes(kb: AttackKB, gid: str) -> dict[str, set[Provenance]]:
    """technique -> routes, straight from kb.data.uses / kb.data.attributions."""
    uses: dict[str, list[str]] = defaultdict(list)
    for u in kb.data.uses:
        uses[u.source].append(u.target)

    def techniques(source: str) -> set[str]:
        return {t for t in uses[source] if t.startswith("T")}

    def via_software(source: str) -> set[str]:
        return {t for s in uses[source] if s.startswith("S") for t in techniques(s)}

    routes: dict[str, set[Provenance]] = defaultdict(set)
    for t in techniques(gid):
        routes[t].add(Provenance.DIRECT)
    for t in via_software(gid):
        routes[t].add(Provenance.SOFTWARE)
    for campaign, group in kb.data.attributions:
        if group == gid:
            for t in techniques(campaign):
                routes[t].add(Provenance.CAMPAIGN)
            for t in via_software(campaign):
                routes[t].add(Provenance.CAMPAIGN_SOFTWARE)
    return routes


@pytest.fixture(scope="module")
def raw18(kb18: AttackKB) -> tuple[Profile, dict[str, dict[str, set[Provenance]]]]:
    profile = load_profile("financial-sector", kb18)
    return profile, {gid: _raw_routes(kb18, gid) for gid in profile.group_ids}


def test_count_weights_equal_raw_group_counts(kb18: AttackKB, raw18) -> None:
    profile, raw = raw18
    weights = profile.weights(kb18, WeightOptions.counts())
    expected: dict[str, int] = defaultdict(int)
    for routes in raw.values():
        for t in routes:
            expected[t] += 1
    forced = {f.technique: f.weight for f in profile.forced}
    assert set(weights) == set(expected) | set(forced)
    for tid, tw in weights.items():
        assert tw.count == expected.get(tid, 0)
        assert tw.weight == max(expected.get(tid, 0), forced.get(tid, 0))
    # the doc's top technique (FINANCIAL-THREATS §1c): T1547.001 used by 19 of the 20 groups
    assert weights["T1547.001"].count == 19


def test_default_weights_take_each_groups_strongest_route(kb18: AttackKB, raw18) -> None:
    profile, raw = raw18
    weights = profile.weights(kb18)
    expected: dict[str, float] = defaultdict(float)
    per_route: dict[str, dict[Provenance, int]] = defaultdict(lambda: defaultdict(int))
    for routes in raw.values():
        for t, rs in routes.items():
            expected[t] += max(DEFAULT_PROVENANCE_WEIGHTS[r] for r in rs)
            for r in rs:
                per_route[t][r] += 1
    forced = {f.technique: f.weight for f in profile.forced}
    for tid, tw in weights.items():
        assert tw.weight == pytest.approx(max(expected.get(tid, 0.0), forced.get(tid, 0.0)))
        assert tw.provenance == {p: per_route[tid][p] for p in Provenance}
    values = [tw.weight for tw in weights.values()]
    assert values == sorted(values, reverse=True)


def test_direct_only_counts(kb18: AttackKB, raw18) -> None:
    profile, raw = raw18
    weights = profile.weights(kb18, WeightOptions.counts((Provenance.DIRECT,)))
    expected: dict[str, int] = defaultdict(int)
    for routes in raw.values():
        for t, rs in routes.items():
            expected[t] += Provenance.DIRECT in rs
    for tid, n in expected.items():
        if n:
            assert weights[tid].count == n
    assert all(tw.count == expected.get(tid, 0) for tid, tw in weights.items())


def test_rollup_counts_groups_using_parent_or_any_sub(kb18: AttackKB, raw18) -> None:
    profile, raw = raw18
    weights = profile.weights(kb18, WeightOptions.counts().model_copy(update={"rollup": True}))
    for parent in ("T1059", "T1547", "T1070", "T1003"):
        n = sum(any(t == parent or t.startswith(parent + ".") for t in routes) for routes in raw.values())
        assert weights[parent].count == n
    assert weights["T1059"].count >= weights["T1059.001"].count
    # sub-techniques keep their own entries
    assert weights["T1059.001"].count == sum("T1059.001" in r for r in raw.values())


def test_apt41_route_counts_match_the_research_doc(kb18: AttackKB) -> None:
    apt41 = load_profile("taiwan-financial", kb18).group("APT41")
    assert apt41 is not None
    routes = apt41.route_counts()
    assert routes[Provenance.DIRECT] == 82 and len(apt41.technique_ids()) == 222


def test_forced_floor_and_notes(kb_any: AttackKB) -> None:
    weights = load_profile("financial-sector", kb_any).weights(kb_any)
    tw = weights["T1565.002"]
    assert tw.forced is not None and tw.forced.note
    assert tw.weight == max(20.0, sum(c.weight for c in tw.contributions))


def _custom(uses: tuple[GroupUse, ...], weight: float = 1.0, key: str = "crew") -> ProfileGroup:
    return ProfileGroup(key=key, name=key, kind=GroupKind.CUSTOM, uses=uses, weight=weight)


def test_recency_half_life_and_group_weight(kb18: AttackKB) -> None:
    uses = (GroupUse("T1566.001", Provenance.DIRECT, None, "2020-01-01T00:00:00Z"),
            GroupUse("T1105", Provenance.DIRECT, None, "2024-01-01T00:00:00Z", weight=3.0))
    p = Profile(name="x", title="x", source="test", attack_version=kb18.version,
                groups=(_custom(uses, weight=2.0), _custom(uses[:1], key="other")))
    w = p.weights(kb18, WeightOptions(recency_half_life=2.0, reference_date=date(2024, 1, 1)))
    # 1461 days = 4.0 years -> two half-lives -> 0.25; group weight 2 for "crew", 1 for "other"
    assert w["T1566.001"].weight == pytest.approx(2 * 0.25 + 0.25)
    assert w["T1105"].weight == pytest.approx(2 * 3.0)
    # without a reference date, the newest date in the profile is the reference (same result here)
    assert p.weights(kb18, WeightOptions(recency_half_life=2.0))["T1566.001"].weight == pytest.approx(0.75)


def test_zero_route_weight_drops_the_route(kb18: AttackKB) -> None:
    uses = (GroupUse("T1105", Provenance.SOFTWARE, "S0002"),)
    p = Profile(name="x", title="x", source="t", attack_version=kb18.version, groups=(_custom(uses),))
    assert "T1105" not in p.weights(kb18, WeightOptions(provenance={"software": 0}))
    assert p.weights(kb18)["T1105"].weight == pytest.approx(0.5)


def test_weight_options_reject_negative() -> None:
    with pytest.raises(ValueError):
        WeightOptions(provenance={"direct": -1})


def test_tactic_distribution_counts_each_tactic(kb18: AttackKB) -> None:
    profile = load_profile("taiwan-financial", kb18)
    weights = profile.weights(kb18)
    shares = tactic_distribution(weights, kb18)
    assert [s.tactic.id for s in shares] == [t.id for t in kb18.tactics]
    total = sum(len(t.tactics) for tid in weights if (t := kb18.technique(tid)))
    assert sum(s.techniques for s in shares) == total
    assert sum(s.weight for s in shares) == pytest.approx(
        sum(tw.weight * len(kb18.technique(tid).tactics) for tid, tw in weights.items()))
