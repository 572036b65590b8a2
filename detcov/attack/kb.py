"""The ATT&CK knowledge base: query API over :class:`AttackData`, with indexes built on first use.

This is the one object every other part of detcov talks to::

    kb = load_attack()                       # detcov.attack.load_attack
    kb.technique("T1059.001").name           # 'PowerShell'
    kb.resolve("attack.t1073")               # revoked -> T1574.001
    kb.detection_refs("T1059.001", "Windows")
    kb.techniques_of_group("G0046")          # with provenance
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from functools import cached_property

from detcov.attack.crosswalk import Crosswalk, load_crosswalk
from detcov.attack.ids import IdNormalizer, IdResolution, IdStatus, parse_tactic_id, tactic_key
from detcov.attack.loader import AttackData
from detcov.attack.model import (
    Analytic,
    BundleInfo,
    Campaign,
    DataComponent,
    DetectionModel,
    DetectionRef,
    DetectionStrategy,
    Group,
    Mitigates,
    Mitigation,
    Provenance,
    Software,
    Tactic,
    Technique,
    TechniqueUse,
    Use,
)

ALL_PROVENANCES: frozenset[Provenance] = frozenset(Provenance)


def fold(text: str) -> str:
    """Case- and space-insensitive key for names, aliases and log-source names."""
    return " ".join(text.casefold().split())


class AttackKB:
    """Read-only queries over one ATT&CK version. Cheap to build; indexes are computed lazily."""

    def __init__(self, data: AttackData) -> None:
        self.data = data

    # ----- bundle -------------------------------------------------------------------------------------------
    @property
    def info(self) -> BundleInfo:
        return self.data.info

    @property
    def version(self) -> str | None:
        return self.data.info.version

    @property
    def detection_model(self) -> DetectionModel:
        return self.data.info.detection_model

    # ----- tactics ------------------------------------------------------------------------------------------
    @property
    def tactics(self) -> tuple[Tactic, ...]:
        """Tactics in the matrix's column order (from the bundle, never hard-coded)."""
        return self.data.tactics

    @cached_property
    def _tactic_keys(self) -> dict[str, Tactic]:
        keys: dict[str, Tactic] = {}
        for t in self.data.tactics:
            keys[t.id] = keys[tactic_key(t.shortname)] = keys[tactic_key(t.name)] = t
        return keys

    def tactic(self, text: str) -> Tactic | None:
        """A tactic by id (TA0002), shortname, name, or tag (``attack.defense_evasion``); a tactic of the other side
        of the crosswalk (``attack.stealth`` with v18 loaded, ``attack.defense-evasion`` with v19) gives its
        equivalent here."""
        key = parse_tactic_id(text) or tactic_key(text)
        found = self._tactic_keys.get(key)
        if found is None and self.crosswalk is not None:
            other = self.crosswalk.tactic(key, loaded_is_newer=self.ids.loaded_is_newer)
            found = self._tactic_keys.get(other) if other else None
        return found

    # ----- techniques ---------------------------------------------------------------------------------------
    @cached_property
    def _techniques(self) -> dict[str, Technique]:
        return {t.id: t for t in self.data.techniques}

    def technique(self, tid: str) -> Technique | None:
        """The technique with exactly this canonical id (any status); see :meth:`resolve` for user input."""
        return self._techniques.get(tid)

    def techniques(self, *, subtechniques: bool = True, active_only: bool = True) -> list[Technique]:
        return [
            t for t in self.data.techniques
            if (subtechniques or not t.is_subtechnique) and (t.active or not active_only)
        ]

    @cached_property
    def _by_tactic(self) -> dict[str, list[Technique]]:
        out: dict[str, list[Technique]] = defaultdict(list)
        for t in sorted(self.techniques(), key=lambda t: t.name):
            for tac in t.tactics:
                out[tac].append(t)
        return out

    def techniques_by_tactic(self, shortname: str) -> list[Technique]:
        return list(self._by_tactic.get(shortname, ()))

    @cached_property
    def _children(self) -> dict[str, list[Technique]]:
        out: dict[str, list[Technique]] = defaultdict(list)
        for t in self.techniques():
            if t.parent:
                out[t.parent].append(t)
        return out

    def subtechniques(self, parent: str) -> list[Technique]:
        return list(self._children.get(parent, ()))

    @cached_property
    def platforms(self) -> tuple[str, ...]:
        """All platforms of active techniques, most common first."""
        counts: dict[str, int] = defaultdict(int)
        for t in self.techniques():
            for p in t.platforms:
                counts[p] += 1
        return tuple(sorted(counts, key=lambda p: (-counts[p], p)))

    @cached_property
    def _id_status(self) -> dict[str, IdStatus]:
        return {
            t.id: IdStatus.REVOKED if t.revoked else IdStatus.DEPRECATED if t.deprecated else IdStatus.CURRENT
            for t in self.data.techniques
        }

    @cached_property
    def crosswalk(self) -> Crosswalk | None:
        """The v18 ↔ v19+ crosswalk as this bundle says it (its revoked-by links override the table); Enterprise
        only (None for ICS / Mobile)."""
        if self.info.domain != "enterprise-attack":
            return None
        bundle_only = IdNormalizer(self._id_status, self.data.revoked_by, {})
        return load_crosswalk().with_bundle(bundle_only.revocation_chain, self._id_status)

    @cached_property
    def ids(self) -> IdNormalizer:
        return IdNormalizer(self._id_status, self.data.revoked_by, {t.id: t.name for t in self.data.techniques},
                            crosswalk=self.crosswalk, version=self.version)

    def resolve(self, raw: str) -> IdResolution:
        """Normalise a technique id as a user or a rule wrote it (case, tags, revoked → current, unknown)."""
        return self.ids.resolve(raw)

    # ----- data components, analytics, detection strategies -------------------------------------------------
    @cached_property
    def _components(self) -> dict[str, DataComponent]:
        out: dict[str, DataComponent] = {}
        for dc in self.data.data_components:
            out[dc.stix_id] = dc
        for dc in sorted(self.data.data_components, key=lambda d: not d.active):  # active wins on name clashes
            for key in filter(None, (dc.dc_id, fold(dc.name), fold(dc.label))):
                out.setdefault(key, dc)
        return out

    def data_component(self, key: str) -> DataComponent | None:
        """By STIX id, DC id (``DC0032``), name (``Process Creation``) or v17 label (``Process: Process Creation``)."""
        return self._components.get(key) or self._components.get(key.upper()) or self._components.get(fold(key))

    def data_components(self, *, active_only: bool = True) -> list[DataComponent]:
        return [dc for dc in self.data.data_components if dc.active or not active_only]

    def detection_refs(self, tid: str, platform: str | None = None) -> tuple[DetectionRef, ...]:
        """The telemetry that gives visibility into a technique (optionally on one platform)."""
        refs = self.data.detections.get(tid, ())
        if platform is None:
            return refs
        return tuple(r for r in refs if r.platform == platform or r.platform is None)

    def data_components_for(self, tid: str, platform: str | None = None) -> set[str]:
        """STIX ids of the data components that give visibility into a technique."""
        return {r.data_component for r in self.detection_refs(tid, platform)}

    @cached_property
    def _analytics(self) -> dict[str, Analytic]:
        return {a.id: a for a in self.data.analytics}

    def analytic(self, an_id: str) -> Analytic | None:
        return self._analytics.get(an_id)

    def analytics_for(self, tid: str, platform: str | None = None) -> list[Analytic]:
        seen = dict.fromkeys(r.analytic for r in self.detection_refs(tid, platform) if r.analytic)
        return [self._analytics[a] for a in seen if a in self._analytics]

    @cached_property
    def _strategies(self) -> dict[str, DetectionStrategy]:
        return {s.id: s for s in self.data.strategies}

    def strategy(self, det_id: str) -> DetectionStrategy | None:
        return self._strategies.get(det_id)

    @cached_property
    def _log_source_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for dc in self.data.data_components:
            for ls in dc.log_sources:
                names.setdefault(fold(ls.name), ls.name)
        for an in self.data.analytics:
            for ref in an.log_sources:
                names.setdefault(fold(ref.name), ref.name)
        return names

    def log_source_name(self, name: str) -> str | None:
        """The bundle's spelling of a log-source name, matched case-insensitively (``etw:`` vs ``ETW:``)."""
        return self._log_source_names.get(fold(name))

    @property
    def log_source_names(self) -> list[str]:
        return sorted(set(self._log_source_names.values()))

    # ----- groups, software, campaigns ----------------------------------------------------------------------
    @cached_property
    def _groups(self) -> dict[str, Group]:
        out: dict[str, Group] = {}
        for g in self.data.groups:
            out[g.id] = g
        for g in sorted(self.data.groups, key=lambda g: not g.active):
            for name in (g.name, *g.aliases):
                out.setdefault(fold(name), g)
        return out

    def group(self, key: str) -> Group | None:
        """By id (``G0046``), name or alias (case-insensitive)."""
        return self._groups.get(key.strip().upper()) or self._groups.get(fold(key))

    def groups(self, *, active_only: bool = True) -> list[Group]:
        return [g for g in self.data.groups if g.active or not active_only]

    @cached_property
    def _software(self) -> dict[str, Software]:
        return {s.id: s for s in self.data.software}

    def software_item(self, sid: str) -> Software | None:
        return self._software.get(sid)

    @property
    def software(self) -> tuple[Software, ...]:
        return self.data.software

    @cached_property
    def _campaigns(self) -> dict[str, Campaign]:
        return {c.id: c for c in self.data.campaigns}

    def campaign(self, cid: str) -> Campaign | None:
        return self._campaigns.get(cid)

    @property
    def campaigns(self) -> tuple[Campaign, ...]:
        return self.data.campaigns

    @cached_property
    def _uses_from(self) -> dict[str, list[Use]]:
        out: dict[str, list[Use]] = defaultdict(list)
        for u in self.data.uses:
            out[u.source].append(u)
        return out

    @cached_property
    def _campaigns_of(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for campaign, group in self.data.attributions:
            out[group].append(campaign)
        return out

    def campaigns_of_group(self, gid: str) -> list[str]:
        return list(self._campaigns_of.get(gid, ()))

    def uses_of(self, source: str) -> list[Use]:
        """Everything ``source`` (a group, campaign or software id) uses directly."""
        return list(self._uses_from.get(source, ()))

    def techniques_of_software(self, sid: str) -> list[Use]:
        return [u for u in self._uses_from.get(sid, ()) if u.target.startswith("T")]

    def techniques_of_group(
        self, gid: str, provenances: Collection[Provenance] = ALL_PROVENANCES
    ) -> list[TechniqueUse]:
        """Every (technique, provenance) link of a group; a technique appears once per route."""
        return list(self._group_uses(gid, provenances))

    def _group_uses(self, gid: str, provenances: Collection[Provenance]) -> Iterable[TechniqueUse]:
        def via_software(source: str, prov: Provenance, prefix: str = "") -> Iterable[TechniqueUse]:
            for sw in self._uses_from.get(source, ()):
                if sw.target.startswith("S"):
                    for u in self.techniques_of_software(sw.target):
                        yield TechniqueUse(u.target, prov, prefix + sw.target, max(u.modified, sw.modified))

        uses = self._uses_from.get(gid, ())
        if Provenance.DIRECT in provenances:
            yield from (TechniqueUse(u.target, Provenance.DIRECT, None, u.modified)
                        for u in uses if u.target.startswith("T"))
        if Provenance.SOFTWARE in provenances:
            yield from via_software(gid, Provenance.SOFTWARE)
        for cid in self._campaigns_of.get(gid, ()):
            if Provenance.CAMPAIGN in provenances:
                yield from (TechniqueUse(u.target, Provenance.CAMPAIGN, cid, u.modified)
                            for u in self._uses_from.get(cid, ()) if u.target.startswith("T"))
            if Provenance.CAMPAIGN_SOFTWARE in provenances:
                yield from via_software(cid, Provenance.CAMPAIGN_SOFTWARE, cid + "/")

    def technique_ids_of_group(self, gid: str, provenances: Collection[Provenance] = ALL_PROVENANCES) -> set[str]:
        return {u.technique for u in self._group_uses(gid, provenances)}

    @cached_property
    def _groups_using(self) -> dict[str, dict[str, list[TechniqueUse]]]:
        out: dict[str, dict[str, list[TechniqueUse]]] = defaultdict(lambda: defaultdict(list))
        for g in self.groups():
            for use in self._group_uses(g.id, ALL_PROVENANCES):
                out[use.technique][g.id].append(use)
        return out

    def groups_using(self, tid: str) -> Mapping[str, list[TechniqueUse]]:
        """Group id -> the routes by which it uses the technique."""
        return self._groups_using.get(tid, {})

    # ----- mitigations --------------------------------------------------------------------------------------
    @cached_property
    def _mitigations(self) -> dict[str, Mitigation]:
        return {m.id: m for m in self.data.mitigations}

    def mitigation(self, mid: str) -> Mitigation | None:
        return self._mitigations.get(mid)

    def mitigations(self, *, active_only: bool = True) -> list[Mitigation]:
        return [m for m in self.data.mitigations if m.active or not active_only]

    @cached_property
    def _mitigates_by(self) -> tuple[dict[str, list[Mitigates]], dict[str, list[Mitigates]]]:
        by_t: dict[str, list[Mitigates]] = defaultdict(list)
        by_m: dict[str, list[Mitigates]] = defaultdict(list)
        for m in self.data.mitigates:
            by_t[m.technique].append(m)
            by_m[m.mitigation].append(m)
        return by_t, by_m

    def mitigations_for(self, tid: str) -> list[Mitigates]:
        return list(self._mitigates_by[0].get(tid, ()))

    def techniques_mitigated_by(self, mid: str) -> list[Mitigates]:
        return list(self._mitigates_by[1].get(mid, ()))
