"""Recommendations: which data sources to onboard next, and where to write the missing rules.

Next data sources — a greedy weighted set cover on a bipartite graph that links each in-scope technique to the
(data component, platform) pairs ATT&CK says it needs in each system group. A candidate is a catalogue device type
onboarded for one system group (fully configured, logs in the SIEM) — only types for the group's platforms and, when
the group lists its cloud ``providers``, for those providers (no AWS CloudTrail for an Azure-only bank). A
technique's value in a group is the share of its needed pairs collected there, weighted by the group's criticality
(the scan's headline rolls groups up by criticality, not by the best one). Each step picks the candidate with the
best gain per unit of effort (the weighted set cover's greedy rule): gain = rise of Σ threat weight × criticality/5
× value; effort = 1 for a new device, 0.5 for forwarding the logs of a device already deployed there (``siem:
false`` in the inventory). Each step reports its marginal gain and its effort.

Rule gaps — for a visible but undetected technique, the analytics (v18) whose log sources the institution already
collects on a platform where the technique runs: that is where a detection engineer should write the rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from detcov.attack import AttackKB
from detcov.datasources.catalog import Catalog
from detcov.datasources.inventory import Device, GroupTelemetry, Inventory, collected_telemetry, resolve_device
from detcov.datasources.telemetry import CollectedTelemetry

if TYPE_CHECKING:
    from detcov.coverage.scope import Estate

Pair = tuple[str, str]  # (data component STIX id, platform)
NEW_DEVICE_EFFORT = 1.0
FORWARD_EFFORT = 0.5


@dataclass(frozen=True, slots=True)
class Onboarding:
    step: int
    device_type: str
    system_group: str
    gain: float  # threat-weighted visibility gained by this step
    effort: float  # 1.0 new device, 0.5 forward the logs of one already deployed
    techniques: tuple[str, ...]  # techniques whose value rises
    components: tuple[str, ...]  # new data-component labels
    already_deployed: bool  # the type is in the inventory for this group but its logs do not reach the SIEM

    @property
    def text(self) -> str:
        verb = "forward to the SIEM the logs of" if self.already_deployed else "onboard"
        return f"{verb} {self.device_type} for {self.system_group}"


Node = tuple[str, str, str]  # ("t", technique, group) or ("c", data component, platform)
Graph = dict[Node, dict[Node, None]]  # each node's neighbours, in the order the edges were added (both ways)


def _needs(kb: AttackKB, weights: Mapping[str, float], inventory: Inventory) -> Graph:
    """Bipartite graph: ("t", technique, group) -- ("c", dc, platform), for techniques with weight > 0."""
    graph: Graph = {}
    for tid, w in weights.items():
        technique = kb.technique(tid)
        if technique is None or w <= 0:
            continue
        for g in inventory.system_groups:
            node = ("t", tid, g.applicable_to)
            for p in (p for p in g.platforms if p in technique.platforms):
                for dc in kb.data_components_for(tid, p):
                    comp = ("c", dc, p)
                    graph.setdefault(node, {})[comp] = None
                    graph.setdefault(comp, {})[node] = None
    return graph


def _collected(groups: Mapping[str, GroupTelemetry]) -> dict[str, set[Pair]]:
    return {name: {(dc, p) for p, comps in gt.components.items() for dc in comps} for name, gt in groups.items()}


def _candidate_pairs(inventory: Inventory, kb: AttackKB, catalog: Catalog) -> dict[tuple[str, str], set[Pair]]:
    out: dict[tuple[str, str], set[Pair]] = {}
    for dtype in catalog:
        device = Device(name=f"candidate {dtype.id}", type=dtype.id, applicable_to=("all",),
                        settings=dict.fromkeys(dtype.setting_ids, True))
        resolved = resolve_device(device, kb, catalog)
        for g in inventory.system_groups:
            if g.providers and dtype.provider and dtype.provider.casefold() not in {p.casefold() for p in g.providers}:
                continue
            pairs = {(dc, p) for dc, where in resolved.components.items() for p in g.platforms
                     if where is None or p in where}
            if pairs:
                out[(dtype.id, g.applicable_to)] = pairs
    return out


class _Cover:
    """The greedy's state: per (technique, group) node the share of needed pairs collected (and, for the report of
    what a step raises, per technique the best)."""

    def __init__(self, graph: Graph, have: Mapping[str, set[Pair]], weights: Mapping[str, float],
                 criticality: Mapping[str, float]) -> None:
        self.graph, self.weights, self.crit = graph, weights, criticality
        self.have = {g: set(pairs) for g, pairs in have.items()}
        self.share = {n: self._share(n) for n in graph if n[0] == "t"}
        self.best: dict[str, float] = defaultdict(float)
        for node, share in self.share.items():
            self.best[node[1]] = max(self.best[node[1]], share)

    def _share(self, node: Node) -> float:
        needed = self.graph[node]
        have = self.have.get(node[2], set())
        return sum(1 for c in needed if (c[1], c[2]) in have) / len(needed)

    def trial(self, group: str, new: set[Pair]) -> tuple[float, dict[Node, float]]:
        """Gain of collecting ``new`` in ``group``, and the new shares of the nodes it touches."""
        bumps: dict[Node, int] = defaultdict(int)
        for dc, platform in new:
            comp = ("c", dc, platform)
            if comp in self.graph:
                for node in self.graph[comp]:
                    if node[2] == group:
                        bumps[node] += 1
        shares = {n: self.share[n] + k / len(self.graph[n]) for n, k in bumps.items()}
        gain = sum(self.weights[n[1]] * self.crit.get(n[2], 0.6) * (v - self.share[n]) for n, v in shares.items())
        return gain, shares

    def apply(self, group: str, new: set[Pair], shares: Mapping[Node, float]) -> None:
        self.have.setdefault(group, set()).update(new)
        for node, share in shares.items():
            self.share[node] = share
            self.best[node[1]] = max(self.best[node[1]], share)


def next_data_sources(kb: AttackKB, catalog: Catalog, inventory: Inventory, weights: Mapping[str, float],
                      *, steps: int = 5, estate: Estate | None = None) -> list[Onboarding]:
    graph = _needs(kb, weights, inventory)
    groups = estate.group_telemetry if estate is not None else inventory.group_telemetry(kb, catalog)
    crit = {g.applicable_to: g.level / 5 for g in inventory.system_groups}
    cover = _Cover(graph, _collected(groups), weights, crit)
    candidates = _candidate_pairs(inventory, kb, catalog)
    deployed = {(d.type, g.applicable_to) for d in inventory.devices if d.type and not d.siem
                for g in inventory.system_groups if d.covers(g.applicable_to)}
    plan: list[Onboarding] = []
    for step in range(1, steps + 1):
        best: tuple[float, float, tuple[str, str], set[Pair], dict[Node, float]] | None = None
        for key in sorted(candidates):
            new = candidates[key] - cover.have.get(key[1], set())
            gain, shares = cover.trial(key[1], new) if new else (0.0, {})
            value = gain / (FORWARD_EFFORT if key in deployed else NEW_DEVICE_EFFORT)
            if gain > 1e-9 and (best is None or value > best[0] + 1e-12):
                best = (value, gain, key, new, shares)
        if best is None:
            break
        _, gain, (dtype, group), new, shares = best
        before = dict(cover.best)
        cover.apply(group, new, shares)
        raised = tuple(sorted((t for t in cover.best if cover.best[t] > before.get(t, 0.0) + 1e-9),
                              key=lambda t: -weights[t]))
        labels = tuple(sorted({dc.label for c, _ in new if (dc := kb.data_component(c)) is not None}))
        effort = FORWARD_EFFORT if (dtype, group) in deployed else NEW_DEVICE_EFFORT
        plan.append(Onboarding(step, dtype, group, round(gain, 3), effort, raised, labels, (dtype, group) in deployed))
    return plan


@dataclass(frozen=True, slots=True)
class RuleHint:
    technique: str
    analytic: str
    platform: str
    log_sources: tuple[str, ...]  # "WinEventLog:Sysmon EventCode=1" already collected
    missing: tuple[str, ...]  # log sources of that analytic not collected

    @property
    def text(self) -> str:
        return f"write a rule after {self.analytic} ({self.platform}) on {', '.join(self.log_sources)}"


def rule_hints(kb: AttackKB, estate: Estate | CollectedTelemetry, techniques: Sequence[str],
               groups: Mapping[str, str] | None = None) -> dict[str, list[RuleHint]]:
    """Per technique, analytics whose log sources a new rule can use *where it is needed* (the technique's deciding
    system group when ``groups`` names one), best-covered first."""
    out: dict[str, list[RuleHint]] = {}
    for tid in techniques:
        technique = kb.technique(tid)
        group = (groups or {}).get(tid)
        if isinstance(estate, CollectedTelemetry):
            telemetry, platforms = estate, list(technique.platforms if technique else ())
        else:
            g = estate.group(group) if group else None
            gt = estate.group_telemetry.get(group) if group else None
            telemetry = collected_telemetry([gt]) if gt is not None else estate.estate_telemetry
            platforms = [p for p in (technique.platforms if technique else ()) if g is None or p in g.platforms]
        hints = []
        for p in platforms:
            if p not in telemetry.platforms:
                continue
            for analytic in kb.analytics_for(tid, p):
                have = [f"{r.name} {r.channel}".strip() for r in analytic.log_sources
                        if telemetry.has_component(r.data_component, p)]
                lack = [f"{r.name} {r.channel}".strip() for r in analytic.log_sources
                        if not telemetry.has_component(r.data_component, p)]
                if have:
                    hints.append(RuleHint(tid, analytic.id, p, tuple(dict.fromkeys(have)), tuple(dict.fromkeys(lack))))
        out[tid] = sorted(hints, key=lambda h: (len(h.missing), -len(h.log_sources)))
    return out
