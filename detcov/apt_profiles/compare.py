"""How alike are two groups or two profiles? Jaccard overlap of technique sets, and a group × group matrix."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

from detcov.apt_profiles.model import Profile, ProfileGroup
from detcov.apt_profiles.weights import TechniqueWeight, WeightOptions
from detcov.attack import AttackKB

if TYPE_CHECKING:
    import pandas as pd


def jaccard(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    """|a ∩ b| / |a ∪ b| (0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def weighted_jaccard(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Σ min / Σ max over the union of keys (Ruzicka similarity); equals :func:`jaccard` for 0/1 weights."""
    keys = a.keys() | b.keys()
    top = sum(max(a.get(k, 0.0), b.get(k, 0.0)) for k in keys)
    return sum(min(a.get(k, 0.0), b.get(k, 0.0)) for k in keys) / top if top else 0.0


@dataclass(frozen=True, slots=True)
class Comparison:
    a: str
    b: str
    shared: frozenset[str]
    only_a: frozenset[str]
    only_b: frozenset[str]
    jaccard: float
    weighted_jaccard: float


def compare_weights(name_a: str, a: Mapping[str, TechniqueWeight], name_b: str,
                    b: Mapping[str, TechniqueWeight]) -> Comparison:
    """Overlap of two weighted technique sets (from :meth:`Profile.weights`); zero weights do not count."""
    wa = {t: w.weight for t, w in a.items() if w.weight > 0}
    wb = {t: w.weight for t, w in b.items() if w.weight > 0}
    sa, sb = frozenset(wa), frozenset(wb)
    return Comparison(name_a, name_b, sa & sb, sa - sb, sb - sa, jaccard(sa, sb), weighted_jaccard(wa, wb))


def compare_profiles(a: Profile, b: Profile, kb: AttackKB,
                     options: WeightOptions | None = None) -> Comparison:
    return compare_weights(a.name, a.weights(kb, options), b.name, b.weights(kb, options))


def group_techniques(group: ProfileGroup, options: WeightOptions | None = None) -> frozenset[str]:
    """The group's techniques over the routes that weigh more than 0 under ``options``."""
    opts = options or WeightOptions()
    return group.technique_ids(tuple(p for p, w in opts.provenance.items() if w > 0))


def similarity_matrix(profile: Profile, options: WeightOptions | None = None) -> pd.DataFrame:
    """Group × group Jaccard similarity of technique sets (labels: group keys); 1 on the diagonal."""
    import pandas as pd  # heavy: only when a matrix is asked for

    sets = {g.key: group_techniques(g, options) for g in profile.groups}
    keys = list(sets)
    frame = pd.DataFrame(1.0, index=keys, columns=keys)
    for x, y in combinations(keys, 2):
        frame.loc[x, y] = frame.loc[y, x] = jaccard(sets[x], sets[y])
    return frame


def _pairs(matrix: pd.DataFrame) -> list[tuple[str, str, float]]:
    keys = [str(k) for k in matrix.index]
    values = matrix.to_numpy(dtype=float)
    return [(keys[i], keys[j], float(values[i, j])) for i, j in combinations(range(len(keys)), 2)]


def similarity_clusters(matrix: pd.DataFrame, threshold: float = 0.4) -> list[list[str]]:
    """Groups linked by similarity >= threshold, as connected clusters of 2+ (largest first)."""
    import networkx as nx  # heavy: only when clusters are asked for

    keys = [str(k) for k in matrix.index]
    graph: nx.Graph = nx.Graph()
    graph.add_nodes_from(keys)
    graph.add_weighted_edges_from((x, y, v) for x, y, v in _pairs(matrix) if v >= threshold)
    clusters = [sorted(c, key=keys.index) for c in nx.connected_components(graph) if len(c) > 1]
    return sorted(clusters, key=lambda c: (-len(c), keys.index(c[0])))


def most_similar(matrix: pd.DataFrame, n: int = 10) -> list[tuple[str, str, float]]:
    """The ``n`` most similar distinct pairs."""
    return sorted(_pairs(matrix), key=lambda p: (-p[2], p[0], p[1]))[:n]
