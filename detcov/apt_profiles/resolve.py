"""Resolve what users write (group names, technique ids, software ids) against the loaded ATT&CK version.

Each function takes an :class:`IssueCollector` and a :class:`Location`, and reports instead of raising, so a
whole file's problems are shown together.
"""

from __future__ import annotations

import difflib
import re

from detcov.apt_profiles.model import GroupKind, GroupUse, ProfileGroup
from detcov.attack import AttackKB, IdStatus
from detcov.attack.kb import fold
from detcov.attack.model import Group, Provenance
from detcov.errors import IssueCollector, Location

_GROUP_ID = re.compile(r"^\s*G\d{4}\s*$", re.IGNORECASE)
_SOFTWARE_ID = re.compile(r"^\s*S\d{4}\s*$", re.IGNORECASE)


def attack_major(kb: AttackKB) -> int | None:
    """18 for ATT&CK 18.1; None when the version is unknown."""
    version = kb.version or ""
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def resolve_technique(kb: AttackKB, raw: str, where: Location, issues: IssueCollector) -> str | None:
    """The current technique id for ``raw``; revoked ids are followed (warning), unusable ones reported."""
    res = kb.resolve(raw)
    if res.status is IdStatus.CURRENT:
        return res.current
    if res.status in (IdStatus.REVOKED, IdStatus.CROSSWALKED) and res.current:
        issues.warning(res.note, where, f"write {res.current} instead")
        return res.current
    if res.status is IdStatus.DEPRECATED:
        issues.warning(res.note + "; ignored", where, "remove it or pick a current technique")
        return None
    hint = (f"did you mean {', '.join(res.suggestions)}?" if res.suggestions
            else "check the id on attack.mitre.org")
    issues.error(f"{res.note} (ATT&CK {kb.version})", where, hint)
    return None


def _group_suggestions(kb: AttackKB, raw: str) -> list[str]:
    names = {fold(n): g for g in kb.groups() for n in (g.name, *g.aliases)}
    return [f"{names[m].id} {names[m].name}" for m in difflib.get_close_matches(fold(raw), list(names), n=3)]


def resolve_group(kb: AttackKB, raw: str, where: Location, issues: IssueCollector) -> Group | None:
    """An active ATT&CK group by id, name or alias; revoked groups follow ``revoked-by`` (warning)."""
    group = kb.group(raw)
    seen: set[str] = set()
    while group is not None and group.revoked and group.revoked_by and group.id not in seen:
        seen.add(group.id)
        successor = kb.group(group.revoked_by)
        issues.warning(f"group {group.id} {group.name} is revoked in ATT&CK {kb.version}; using "
                       f"{group.revoked_by} {successor.name if successor else '?'}", where,
                       f"write {group.revoked_by} instead")
        group = successor
    if group is None:
        if _GROUP_ID.match(raw):
            issues.error(f"group {raw.strip().upper()} is not in ATT&CK {kb.version}", where,
                         "remove it, or load an ATT&CK version that has it (--attack / --attack-version)")
        else:
            close = _group_suggestions(kb, raw)
            issues.error(f"no ATT&CK {kb.version} group has the id, name or alias {raw!r}", where,
                         f"did you mean {', '.join(close)}?" if close
                         else "check the name on attack.mitre.org/groups")
        return None
    if not group.active:
        issues.warning(f"group {group.id} {group.name} is deprecated in ATT&CK {kb.version}; ignored", where,
                       "remove it from the profile")
        return None
    return group


def resolve_software(kb: AttackKB, raw: str, where: Location, issues: IssueCollector) -> str | None:
    sid = raw.strip().upper()
    sw = kb.software_item(sid) if _SOFTWARE_ID.match(raw) else None
    if sw is None:
        issues.error(f"{raw!r} is not a software id in ATT&CK {kb.version}", where,
                     "use an ATT&CK software id such as S0002 (attack.mitre.org/software)")
        return None
    if sw.revoked or sw.deprecated:
        status = "revoked" if sw.revoked else "deprecated"
        issues.warning(f"software {sid} {sw.name} is {status}; ignored", where, "remove it")
        return None
    return sid


def software_uses(kb: AttackKB, sid: str, provenance: Provenance = Provenance.SOFTWARE,
                  weight: float = 1.0) -> list[GroupUse]:
    """The techniques of an ATT&CK software item, as uses of whoever uses that software."""
    return [GroupUse(u.target, provenance, sid, u.modified, weight) for u in kb.techniques_of_software(sid)]


def attack_group(kb: AttackKB, group: Group, *, weight: float = 1.0, quotes: tuple[str, ...] = (),
                 reason: str | None = None, note: str | None = None) -> ProfileGroup:
    """A profile member for an ATT&CK group, with every route by which it uses techniques."""
    uses = tuple(GroupUse(u.technique, u.provenance, u.via, u.modified)
                 for u in kb.techniques_of_group(group.id))
    return ProfileGroup(key=group.id, name=group.name, kind=GroupKind.ATTACK, uses=uses, weight=weight,
                        aliases=tuple(a for a in group.aliases if a != group.name), quotes=quotes,
                        reason=reason, note=note)
