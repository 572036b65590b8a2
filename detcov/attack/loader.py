"""STIX bundle (already parsed by orjson) → :class:`AttackData`, in one pass, with no stix2 objects.

Both ATT&CK detection models are read, detected from the bundle itself:
v18+ (detection strategy → analytics → log-source references) and v17- (data component ``detects`` technique).
Tactic names and order always come from the bundle's ``x-mitre-matrix``.
"""

from __future__ import annotations

import gc
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from detcov.attack.model import (
    Analytic,
    BundleInfo,
    Campaign,
    DataComponent,
    DetectionModel,
    DetectionRef,
    DetectionStrategy,
    Group,
    LogSource,
    LogSourceRef,
    Mitigates,
    Mitigation,
    MutableElement,
    Software,
    Tactic,
    Technique,
    Use,
)
from detcov.errors import DetcovError, Location

Obj = Mapping[str, Any]

_ATTACK_SOURCES = frozenset({"mitre-attack", "mitre-mobile-attack", "mitre-ics-attack"})
_VERSION_IN_NAME = re.compile(r"(?:attack|ATT&CK)[-_ ]?v?(\d+\.\d+)", re.IGNORECASE)
_USES_SOURCES = frozenset({"intrusion-set", "campaign", "malware", "tool"})
_USES_TARGETS = frozenset({"attack-pattern", "malware", "tool"})


class LazySections:
    """The heavy parts of :class:`AttackData`, decoded on first use.

    A cold parse hands them over ready; the cache hands over decoders, so a warm start pays only for what a
    command touches (``attack info`` never decodes the 17 k ``uses`` rows). Integrity is checked once for the
    whole cache file before any decoder exists.
    """

    __slots__ = ("_loaders", "_values")

    def __init__(self, values: Mapping[str, Any] | None = None,
                 loaders: Mapping[str, Callable[[], Any]] | None = None) -> None:
        self._values: dict[str, Any] = dict(values or {})
        self._loaders: dict[str, Callable[[], Any]] = dict(loaders or {})

    def get(self, name: str) -> Any:
        if name not in self._values:
            loader = self._loaders.pop(name)
            was_enabled = gc.isenabled()
            gc.disable()  # tens of thousands of small objects: the cyclic GC would only slow this down
            try:
                self._values[name] = loader()
            finally:
                if was_enabled:
                    gc.enable()
        return self._values[name]

    def materialise(self) -> None:
        for name in list(self._loaders):
            self.get(name)


@dataclass(frozen=True, slots=True, eq=False)
class AttackData:
    """Everything detcov keeps from a bundle: flat, immutable, cacheable."""

    info: BundleInfo
    tactics: tuple[Tactic, ...]  # matrix order
    techniques: tuple[Technique, ...]  # all, including revoked and deprecated
    data_components: tuple[DataComponent, ...]
    strategies: tuple[DetectionStrategy, ...]
    groups: tuple[Group, ...]
    software: tuple[Software, ...]
    campaigns: tuple[Campaign, ...]
    mitigations: tuple[Mitigation, ...]
    attributions: tuple[tuple[str, str], ...]  # (campaign id, group id)
    revoked_by: Mapping[str, str]  # ATT&CK id -> ATT&CK id that replaced it (one step)
    lazy: LazySections  # analytics, detections, uses, mitigates

    @property
    def analytics(self) -> tuple[Analytic, ...]:
        return cast(tuple[Analytic, ...], self.lazy.get("analytics"))

    @property
    def detections(self) -> Mapping[str, tuple[DetectionRef, ...]]:
        """Technique id -> the telemetry that gives visibility into it."""
        return cast(Mapping[str, tuple[DetectionRef, ...]], self.lazy.get("detections"))

    @property
    def uses(self) -> tuple[Use, ...]:
        return cast(tuple[Use, ...], self.lazy.get("uses"))

    @property
    def mitigates(self) -> tuple[Mitigates, ...]:
        return cast(tuple[Mitigates, ...], self.lazy.get("mitigates"))


LAZY_SECTIONS = ("analytics", "detections", "uses", "mitigates")


def attack_id(obj: Obj) -> str | None:
    """The ATT&CK id (``T1059``, ``G0046``, ...) from the first mitre-attack external reference."""
    for ref in obj.get("external_references") or ():
        if ref.get("source_name") in _ATTACK_SOURCES and ref.get("external_id"):
            return str(ref["external_id"])
    return None


def _flag(obj: Obj, key: str) -> bool:
    return bool(obj.get(key, False))


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def version_from_name(name: str) -> str | None:
    """``enterprise-attack-18.1.json`` -> ``18.1``."""
    match = _VERSION_IN_NAME.search(name)
    return match.group(1) if match else None


def bucket_objects(bundle: Any, source: str) -> dict[str, list[Obj]]:
    """Check the bundle's shape and group its objects by STIX type."""
    if not isinstance(bundle, dict) or bundle.get("type") != "bundle" or not isinstance(bundle.get("objects"), list):
        raise DetcovError(
            "is JSON but not a STIX bundle (expected an object with type 'bundle' and a list of 'objects')",
            location=_loc(source),
            hint="pass an ATT&CK Enterprise STIX bundle such as enterprise-attack-18.1.json",
        )
    buckets: dict[str, list[Obj]] = defaultdict(list)
    for obj in bundle["objects"]:
        if isinstance(obj, dict) and isinstance(obj.get("type"), str):
            buckets[obj["type"]].append(obj)
    return buckets


def _loc(source: str) -> Location:
    return Location(source)


DOMAINS = ("enterprise-attack", "mobile-attack", "ics-attack")
SCAN_DOMAIN = "enterprise-attack"


def _domain(buckets: Mapping[str, list[Obj]], source: str, expected: str | None) -> str:
    """The bundle's ATT&CK domain; ``expected`` None accepts any of Enterprise, Mobile and ICS."""
    matrices = buckets.get("x-mitre-matrix", [])
    domains = {attack_id(m) for m in matrices} | {
        d for m in matrices for d in _strs(m.get("x_mitre_domains"))
    }
    domains.discard(None)
    if not matrices or not buckets.get("attack-pattern"):
        raise DetcovError(
            "is a STIX bundle but holds no ATT&CK matrix or techniques",
            location=_loc(source),
            hint="pass an ATT&CK Enterprise bundle (enterprise-attack-<version>.json from MITRE's attack-stix-data)",
        )
    known = [d for d in DOMAINS if d in domains]
    if expected is None and known:
        return known[0]
    if expected is None or expected not in domains:
        found = ", ".join(sorted(str(d) for d in domains)) or "unknown"
        wanted = expected or "Enterprise, Mobile or ICS"
        hint = f"detcov reads {wanted} bundles, e.g. {expected or SCAN_DOMAIN}-18.1.json"
        if expected == SCAN_DOMAIN and known:
            hint = ("the coverage scan, rules and inventories need ATT&CK Enterprise (enterprise-attack-18.1.json); "
                    "`detcov attack info|show` and `detcov profile` also read Mobile and ICS bundles")
        raise DetcovError(f"is an ATT&CK bundle for {found}, not {expected or 'a domain detcov reads'}",
                          location=_loc(source), hint=hint)
    return expected


def _matrix_tactics(buckets: Mapping[str, list[Obj]], domain: str) -> tuple[Tactic, ...]:
    by_stix = {t["id"]: t for t in buckets.get("x-mitre-tactic", [])}
    matrix = next(m for m in buckets["x-mitre-matrix"] if attack_id(m) == domain or domain in _strs(
        m.get("x_mitre_domains")))
    tactics = []
    for ref in matrix.get("tactic_refs") or ():
        obj = by_stix.get(ref)
        if obj is not None:
            tactics.append(Tactic(attack_id(obj) or "", str(obj.get("x_mitre_shortname", "")),
                                  str(obj.get("name", "")), obj["id"]))
    return tuple(tactics)


def _technique(obj: Obj, tactic_rank: Mapping[str, int], revoked_by: Mapping[str, str]) -> Technique | None:
    tid = attack_id(obj)
    if tid is None:
        return None
    phases = {
        p["phase_name"]
        for p in obj.get("kill_chain_phases") or ()
        if p.get("kill_chain_name") == "mitre-attack" and p.get("phase_name") in tactic_rank
    }
    is_sub = bool(obj.get("x_mitre_is_subtechnique")) or "." in tid
    return Technique(
        id=tid,
        stix_id=obj["id"],
        name=str(obj.get("name", "")),
        tactics=tuple(sorted(phases, key=tactic_rank.__getitem__)),
        platforms=_strs(obj.get("x_mitre_platforms")),
        is_subtechnique=is_sub,
        parent=tid.split(".")[0] if is_sub else None,
        deprecated=_flag(obj, "x_mitre_deprecated"),
        revoked=_flag(obj, "revoked"),
        revoked_by=revoked_by.get(tid),
        modified=str(obj.get("modified", "")),
    )


def log_channel(value: object) -> str:
    """A log source's channel as detcov keeps it: ``""`` for none. ATT&CK 18 writes ``"None"`` (the word) for
    log sources without a channel (68 data-component and 127 analytic log sources in 18.1); that is no channel,
    not a channel named None, so rule hints and next steps never print "linux:syslog None"."""
    text = "" if value is None else str(value).strip()
    return "" if text.lower() in ("none", "null") else text


def _data_component(obj: Obj, ds_names: Mapping[str, str]) -> DataComponent:
    return DataComponent(
        stix_id=obj["id"],
        name=str(obj.get("name", "")),
        dc_id=attack_id(obj),
        data_source=ds_names.get(str(obj.get("x_mitre_data_source_ref") or "")),
        log_sources=tuple(
            LogSource(str(ls.get("name", "")), log_channel(ls.get("channel")))
            for ls in obj.get("x_mitre_log_sources") or ()
        ),
        deprecated=_flag(obj, "x_mitre_deprecated"),
        revoked=_flag(obj, "revoked"),
    )


def _analytic(obj: Obj, strategy_of: Mapping[str, str]) -> Analytic | None:
    aid = attack_id(obj)
    if aid is None:
        return None
    platforms = _strs(obj.get("x_mitre_platforms"))
    return Analytic(
        id=aid,
        stix_id=obj["id"],
        name=str(obj.get("name", "")),
        platform=platforms[0] if platforms else None,
        description=str(obj.get("description", "")),
        log_sources=tuple(
            LogSourceRef(str(r.get("x_mitre_data_component_ref", "")), str(r.get("name", "")),
                         log_channel(r.get("channel")))
            for r in obj.get("x_mitre_log_source_references") or ()
        ),
        mutable_elements=tuple(
            MutableElement(str(m.get("field", "")), str(m.get("description", "")))
            for m in obj.get("x_mitre_mutable_elements") or ()
        ),
        strategy=strategy_of.get(obj["id"]),
    )


def _active(obj: Obj) -> bool:
    return not (_flag(obj, "revoked") or _flag(obj, "x_mitre_deprecated"))


@dataclass(frozen=True, slots=True)
class _Ids:
    """STIX id -> ATT&CK id, -> object, and -> type for active objects only (relationship ends)."""

    attack: Mapping[str, str]
    objects: Mapping[str, Obj]
    live: Mapping[str, str]


def _index_ids(buckets: Mapping[str, list[Obj]]) -> _Ids:
    attack: dict[str, str] = {}
    objects: dict[str, Obj] = {}
    live: dict[str, str] = {}
    for kind, objs in buckets.items():
        if kind == "relationship":
            continue
        for obj in objs:
            stix_id = obj["id"]
            objects[stix_id] = obj
            aid = attack_id(obj)
            if aid is not None:
                attack[stix_id] = aid
            if not (obj.get("revoked") or obj.get("x_mitre_deprecated")):
                live[stix_id] = kind
    return _Ids(attack, objects, live)


@dataclass
class _Relations:
    revoked_by: dict[str, str] = field(default_factory=dict)
    detects_dc: list[Obj] = field(default_factory=list)
    detects_det: list[Obj] = field(default_factory=list)
    uses: list[Use] = field(default_factory=list)
    attributions: list[tuple[str, str]] = field(default_factory=list)
    mitigates: list[Mitigates] = field(default_factory=list)


def _relationships(rels: Iterable[Obj], ids: _Ids) -> _Relations:
    """One pass over the relationships, keeping those between active objects that coverage needs."""
    out = _Relations()
    live, attack = ids.live, ids.attack
    for rel in rels:
        if rel.get("revoked") or rel.get("x_mitre_deprecated"):
            continue
        kind, src_id, dst_id = rel.get("relationship_type"), rel.get("source_ref", ""), rel.get("target_ref", "")
        if kind == "revoked-by":
            if src_id in attack and dst_id in attack:
                out.revoked_by[attack[src_id]] = attack[dst_id]
            continue
        src, dst = live.get(src_id), live.get(dst_id)
        if src is None or dst is None:
            continue
        if kind == "uses":
            if src in _USES_SOURCES and dst in _USES_TARGETS and src_id in attack and dst_id in attack:
                out.uses.append(Use(attack[src_id], attack[dst_id], rel.get("modified", "")))
        elif kind == "detects":
            (out.detects_dc if src == "x-mitre-data-component" else out.detects_det).append(rel)
        elif kind == "attributed-to":
            if src == "campaign" and dst == "intrusion-set":
                out.attributions.append((attack[src_id], attack[dst_id]))
        elif kind == "mitigates" and src == "course-of-action" and dst == "attack-pattern":
            out.mitigates.append(Mitigates(attack[src_id], attack[dst_id], rel.get("description", "")))
    return out


def _v18_detections(
    detects: Iterable[Obj], ids: _Ids, analytics: Mapping[str, Analytic]
) -> dict[str, list[DetectionRef]]:
    out: dict[str, list[DetectionRef]] = defaultdict(list)
    for rel in detects:
        strategy = ids.objects[rel["source_ref"]]
        technique = ids.attack[rel["target_ref"]]
        det_id = ids.attack.get(strategy["id"])
        for an_ref in strategy.get("x_mitre_analytic_refs") or ():
            an_obj = ids.objects.get(an_ref)
            analytic = analytics.get(an_ref)
            if an_obj is None or analytic is None or not _active(an_obj):
                continue
            out[technique].extend(
                DetectionRef(analytic.platform, ls.data_component, LogSource(ls.name, ls.channel), analytic.id, det_id)
                for ls in analytic.log_sources
            )
    return out


def _v17_detections(detects: Iterable[Obj], ids: _Ids, dc_platforms: Mapping[str, tuple[str, ...]],
                    techniques: Mapping[str, Technique]) -> dict[str, list[DetectionRef]]:
    out: dict[str, list[DetectionRef]] = defaultdict(list)
    for rel in detects:
        technique = techniques.get(ids.attack.get(rel["target_ref"], ""))
        if technique is None:
            continue
        dc = rel["source_ref"]
        ds_platforms = dc_platforms.get(dc, ())
        platforms: list[str | None] = [p for p in technique.platforms if not ds_platforms or p in ds_platforms]
        out[technique.id].extend(DetectionRef(p, dc, None, None, None)
                                 for p in platforms or list(technique.platforms) or [None])
    return out


def _strategies(buckets: Mapping[str, list[Obj]], detects: Iterable[Obj], ids: _Ids) -> tuple[DetectionStrategy, ...]:
    techniques_of: dict[str, list[str]] = defaultdict(list)
    for rel in detects:
        techniques_of[rel["source_ref"]].append(ids.attack[rel["target_ref"]])
    return tuple(
        DetectionStrategy(
            id=ids.attack[s["id"]],
            stix_id=s["id"],
            name=str(s.get("name", "")),
            analytics=tuple(ids.attack[a] for a in s.get("x_mitre_analytic_refs") or () if a in ids.attack),
            techniques=tuple(techniques_of.get(s["id"], ())),
        )
        for s in buckets.get("x-mitre-detection-strategy", [])
        if _active(s) and s["id"] in ids.attack
    )


def _simple_objects(buckets: Mapping[str, list[Obj]], ids: _Ids, revoked_by: Mapping[str, str]) -> dict[str, Any]:
    def common(o: Obj) -> dict[str, Any]:
        return {"id": ids.attack[o["id"]], "stix_id": o["id"], "name": str(o.get("name", "")),
                "deprecated": _flag(o, "x_mitre_deprecated"), "revoked": _flag(o, "revoked")}

    def has_id(kind: str) -> list[Obj]:
        return [o for o in buckets.get(kind, []) if o["id"] in ids.attack]

    groups = tuple(
        Group(**common(o), aliases=_strs(o.get("aliases")), description=str(o.get("description", "")),
              revoked_by=revoked_by.get(ids.attack[o["id"]]), modified=str(o.get("modified", "")))
        for o in has_id("intrusion-set")
    )
    software = tuple(
        Software(**common(o), kind=str(o["type"]), aliases=_strs(o.get("x_mitre_aliases")),
                 platforms=_strs(o.get("x_mitre_platforms")))
        for kind in ("malware", "tool") for o in has_id(kind)
    )
    campaigns = tuple(
        Campaign(**common(o), aliases=_strs(o.get("aliases")), first_seen=o.get("first_seen"),
                 last_seen=o.get("last_seen"))
        for o in has_id("campaign")
    )
    mitigations = tuple(
        Mitigation(**common(o), description=str(o.get("description", ""))) for o in has_id("course-of-action")
    )
    return {"groups": groups, "software": software, "campaigns": campaigns, "mitigations": mitigations}


def _bundle_version(buckets: Mapping[str, list[Obj]], source: str) -> str | None:
    for collection in buckets.get("x-mitre-collection", []):
        if collection.get("x_mitre_version"):
            return str(collection["x_mitre_version"])
    return version_from_name(source.rsplit("/", 1)[-1])


def parse_bundle(bundle: Any, *, source: str, sha256: str, domain: str | None = SCAN_DOMAIN) -> AttackData:
    """Build :class:`AttackData` from a parsed STIX 2.0/2.1 bundle (``domain`` None: Enterprise, Mobile or ICS,
    whichever the bundle is). Raises :class:`DetcovError` on bad input."""
    buckets = bucket_objects(bundle, source)
    domain = _domain(buckets, source, domain)
    ids = _index_ids(buckets)
    tactics = _matrix_tactics(buckets, domain)
    tactic_rank = {t.shortname: i for i, t in enumerate(tactics)}
    rels = _relationships(buckets.get("relationship", []), ids)
    revoked_by, detects_dc, detects_det = rels.revoked_by, rels.detects_dc, rels.detects_det
    techniques = tuple(t for o in buckets["attack-pattern"] if (t := _technique(o, tactic_rank, revoked_by)))
    ds_names = {o["id"]: str(o.get("name", "")) for o in buckets.get("x-mitre-data-source", [])}
    dc_platforms = {
        o["id"]: _strs(ids.objects.get(str(o.get("x_mitre_data_source_ref") or ""), {}).get("x_mitre_platforms"))
        for o in buckets.get("x-mitre-data-component", [])
    }
    strategies = _strategies(buckets, detects_det, ids)
    strategy_of = {an: ds.id for ds in strategies for an in ids.objects[ds.stix_id].get("x_mitre_analytic_refs") or ()}
    analytics = {o["id"]: a for o in buckets.get("x-mitre-analytic", []) if (a := _analytic(o, strategy_of))}
    detections: dict[str, list[DetectionRef]] = _v18_detections(detects_det, ids, analytics)
    for tid, refs in _v17_detections(detects_dc, ids, dc_platforms, {t.id: t for t in techniques}).items():
        detections.setdefault(tid, []).extend(refs)
    spec_versions = [str(o["x_mitre_attack_spec_version"]) for objs in buckets.values() for o in objs[:50]
                     if o.get("x_mitre_attack_spec_version")]
    info = BundleInfo(
        domain=domain,
        version=_bundle_version(buckets, source),
        spec_version=str(bundle.get("spec_version") or _object_spec_version(buckets)),
        attack_spec_version=max(spec_versions, key=_version_key) if spec_versions else None,
        detection_model=DetectionModel.ANALYTICS if detects_det else DetectionModel.DATA_COMPONENTS,
        sha256=sha256,
        source=source,
        object_count=len(bundle["objects"]),
    )
    return AttackData(
        info=info,
        tactics=tactics,
        techniques=techniques,
        data_components=tuple(_data_component(o, ds_names) for o in buckets.get("x-mitre-data-component", [])),
        strategies=strategies,
        attributions=tuple(rels.attributions),
        revoked_by=revoked_by,
        lazy=LazySections({"analytics": tuple(analytics.values()), "uses": tuple(rels.uses),
                           "mitigates": tuple(rels.mitigates),
                           "detections": {k: tuple(v) for k, v in detections.items()}}),
        **_simple_objects(buckets, ids, revoked_by),
    )


def _object_spec_version(buckets: Mapping[str, list[Obj]]) -> str:
    for objs in buckets.values():
        for obj in objs[:1]:
            if obj.get("spec_version"):
                return str(obj["spec_version"])
    return "2.0"


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in text.split("."))
