"""STIX 2.0/2.1 threat-intel bundles (OpenCTI, MISP, TAXII exports) as profiles, read with the stix2 library.

* Actors are ``intrusion-set`` and ``threat-actor`` objects; a ``campaign`` ``attributed-to`` an actor adds
  its techniques to that actor (provenance *campaign*); a campaign attributed to nobody is an actor
  of its own.
* ``uses`` to an ``attack-pattern`` is a direct use; ``uses`` to ``malware``/``tool`` adds the software's
  techniques: from the bundle's own ``uses`` of that software, or else from ATT&CK when the software
  has an ATT&CK id.
* Attack patterns, software and actors are matched to ATT&CK by external id (``mitre-attack`` references).
  An actor with an ATT&CK group id and no technique of its own stands for that ATT&CK group.
* A feed is machine-written: techniques it names that this ATT&CK version lacks are warnings, not errors.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from detcov.apt_profiles.model import GroupKind, GroupUse, Profile, ProfileGroup
from detcov.apt_profiles.resolve import attack_group, resolve_technique, software_uses
from detcov.attack import AttackKB
from detcov.attack.model import Provenance
from detcov.errors import DetcovError, Issue, IssueCollector, Location, Severity

_ACTORS = ("intrusion-set", "threat-actor")
_SOFTWARE = ("malware", "tool")
_ATTACK_SOURCES = ("mitre-attack", "mitre-pre-attack", "mitre-mobile-attack", "mitre-ics-attack")


def _external_id(obj: Mapping[str, Any], prefix: str) -> str | None:
    for ref in obj.get("external_references") or ():
        ext = ref.get("external_id")
        if ref.get("source_name") in _ATTACK_SOURCES and isinstance(ext, str) \
                and ext.upper().startswith(prefix):
            return ext.upper()
    return None


def _parse(path: Path, data: Any) -> list[Mapping[str, Any]]:
    if not isinstance(data, dict) or data.get("type") != "bundle":
        raise DetcovError("not a STIX bundle (the top-level object needs \"type\": \"bundle\")",
                          location=Location(str(path)), hint="export the intel as a STIX 2.x bundle")
    import stix2  # heavy: only for intel bundles
    import stix2.exceptions

    try:
        bundle = stix2.parse(data, allow_custom=True)
    except (stix2.exceptions.STIXError, ValueError, TypeError) as exc:
        raise DetcovError(f"invalid STIX bundle: {exc}", location=Location(str(path)),
                          hint="validate the bundle (e.g. with stix2-validator) and export it again") from exc
    return list(getattr(bundle, "objects", None) or ())


def _date(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(value, "strftime") else str(value or "")


@dataclass
class _Bundle:
    """Plain indexes over the bundle's objects."""

    objects: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    # source stix id -> (target stix id, relationship date)
    uses: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    attributed: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # actor -> campaigns
    techniques: dict[str, str] = field(default_factory=dict)  # attack-pattern stix id -> current ATT&CK id

    def of_type(self, *types: str) -> list[Mapping[str, Any]]:
        return [o for o in self.objects.values() if o.get("type") in types]


def _index(objects: Iterable[Mapping[str, Any]], kb: AttackKB, where: Location,
           issues: IssueCollector) -> _Bundle:
    b = _Bundle()
    for obj in objects:
        b.objects[str(obj["id"])] = obj
    for rel in b.of_type("relationship"):
        src, dst, kind = str(rel.get("source_ref")), str(rel.get("target_ref")), rel.get("relationship_type")
        if kind == "uses":
            b.uses[src].append((dst, _date(rel.get("modified"))))
        elif kind == "attributed-to" and src.startswith("campaign--"):
            b.attributed[dst].append(src)
    for ap in b.of_type("attack-pattern"):
        tid = _external_id(ap, "T")
        if tid is None:
            issues.warning(f"attack-pattern {ap.get('name')!r} ({ap['id']}) has no ATT&CK id; ignored", where,
                           "add a mitre-attack external reference to map it")
            continue
        current = resolve_technique(kb, tid, Location(f"{where.path} {ap['id']}"), issues)
        if current:
            b.techniques[str(ap["id"])] = current
    return b


def _software_uses(b: _Bundle, kb: AttackKB, sw_id: str, provenance: Provenance,
                   prefix: str) -> list[GroupUse]:
    sw = b.objects.get(sw_id, {})
    label = _external_id(sw, "S") or str(sw.get("name", sw_id))
    own = [GroupUse(b.techniques[dst], provenance, prefix + label, date)
           for dst, date in b.uses.get(sw_id, ()) if dst in b.techniques]
    if own:
        return own
    sid = _external_id(sw, "S")
    return software_uses(kb, sid, provenance) if sid and kb.software_item(sid) else []


def _uses_of(b: _Bundle, kb: AttackKB, source: str, direct: Provenance, via_sw: Provenance,
             prefix: str = "") -> list[GroupUse]:
    out: list[GroupUse] = []
    for dst, date in b.uses.get(source, ()):
        if dst in b.techniques:
            out.append(GroupUse(b.techniques[dst], direct, prefix.rstrip("/") or None, date))
        elif b.objects.get(dst, {}).get("type") in _SOFTWARE:
            out.extend(_software_uses(b, kb, dst, via_sw, prefix))
    return out


def _actor_uses(b: _Bundle, kb: AttackKB, actor_id: str) -> list[GroupUse]:
    uses = _uses_of(b, kb, actor_id, Provenance.DIRECT, Provenance.SOFTWARE)
    for cid in b.attributed.get(actor_id, ()):
        name = str(b.objects.get(cid, {}).get("name", cid))
        uses.extend(_uses_of(b, kb, cid, Provenance.CAMPAIGN, Provenance.CAMPAIGN_SOFTWARE, name + "/"))
    return uses


def _actor(b: _Bundle, kb: AttackKB, obj: Mapping[str, Any], where: Location,
           issues: IssueCollector) -> ProfileGroup | None:
    name = str(obj.get("name") or obj["id"])
    gid = _external_id(obj, "G")
    group = kb.group(gid) if gid else None
    uses = _actor_uses(b, kb, str(obj["id"]))
    if not uses and group is not None and group.active:
        return attack_group(kb, group, reason=f"named in the intel bundle as {name!r}")
    if not uses:
        issues.warning(f"{obj['type']} {name!r} uses no technique this ATT&CK version knows; ignored", where,
                       "add uses relationships to attack-patterns with ATT&CK ids")
        return None
    aliases = tuple(str(a) for a in obj.get("aliases") or ())
    return ProfileGroup(key=name, name=name, kind=GroupKind.CUSTOM, uses=tuple(uses), aliases=aliases,
                        note=str(obj.get("description") or "")[:300] or None, source=str(obj["id"]),
                        attack_group=group.id if group else None)


def profile_from_stix(path: Path, data: Any, kb: AttackKB) -> Profile:
    """A profile with one group per actor (and per unattributed campaign) of the bundle."""
    where = Location(str(path))
    found = IssueCollector()
    b = _index(_parse(path, data), kb, where, found)
    attributed = {c for cs in b.attributed.values() for c in cs}
    candidates = [*b.of_type(*_ACTORS), *(c for c in b.of_type("campaign") if c["id"] not in attributed)]
    groups: dict[str, ProfileGroup] = {}
    for obj in candidates:
        member = _actor(b, kb, obj, where, found)
        if member is not None:
            key = member.key if member.key not in groups else f"{member.key} ({obj['id']})"
            groups[key] = replace(member, key=key)
    if not groups:
        raise DetcovError("the STIX bundle has no actor with techniques ATT&CK knows", location=where,
                          hint="it needs intrusion-set/threat-actor/campaign objects with uses relationships",
                          issues=_warnings(found))
    return Profile(name=path.stem, title=f"STIX intel: {path.name}", source=str(path),
                   attack_version=kb.version, groups=tuple(groups.values()),
                   description="STIX 2.x threat-intel bundle",
                   issues=tuple(_warnings(found)))


def _warnings(found: IssueCollector) -> list[Issue]:
    """Feed problems are warnings: the intel is machine-written and the rest of it is still usable."""
    return [Issue(i.message, i.location, i.hint, Severity.WARNING) if i.severity is Severity.ERROR else i
            for i in found]
