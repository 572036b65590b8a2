"""Load a threat profile: a shipped name, the user's ``apt-profile`` YAML, a STIX 2.x intel bundle, or a
DeTT&CT group-administration file. Everything is resolved against one ATT&CK version; all problems of a
file are reported together (errors raise :class:`DetcovError`, warnings are kept in ``Profile.issues``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from detcov.apt_profiles.dettect import profile_from_dettect
from detcov.apt_profiles.files import (
    DETTECT_FILE_TYPE,
    PROFILE_FILE_TYPE,
    PROFILE_VERSIONS,
    GroupEntry,
    ProfileFile,
    TechniqueEntry,
)
from detcov.apt_profiles.model import ForcedTechnique, GroupKind, GroupUse, Profile, ProfileGroup, quote_in
from detcov.apt_profiles.resolve import (
    attack_group,
    attack_major,
    resolve_group,
    resolve_software,
    resolve_technique,
    software_uses,
)
from detcov.apt_profiles.stix_intel import profile_from_stix
from detcov.attack import AttackKB
from detcov.attack.model import Provenance
from detcov.errors import DetcovError, IssueCollector, Location
from detcov.userfiles import check_header, load_yaml, position, validate_model

_SHIPPED = resources.files("detcov.apt_profiles") / "profiles"


def shipped_profiles() -> list[str]:
    """Names of the profiles shipped with detcov."""
    return sorted(p.name.removesuffix(".yaml") for p in _SHIPPED.iterdir() if p.name.endswith(".yaml"))


def shipped_profile_path(name: str) -> Path | None:
    candidate = _SHIPPED / f"{name.strip().lower()}.yaml"
    return Path(str(candidate)) if candidate.is_file() else None


def load_profile(name_or_path: str | Path, kb: AttackKB) -> Profile:
    """A resolved profile from a shipped name, an apt-profile YAML, a STIX bundle or a DeTT&CT group file."""
    return _load(name_or_path, kb, ())


def _load(name_or_path: str | Path, kb: AttackKB, stack: Sequence[Path]) -> Profile:
    path = Path(name_or_path)
    if not path.is_file():
        shipped = shipped_profile_path(str(name_or_path)) if isinstance(name_or_path, str) else None
        if shipped is None:
            raise DetcovError(f"no profile file or shipped profile named {str(name_or_path)!r}",
                              hint=f"give a file path, or one of: {', '.join(shipped_profiles())}")
        path = shipped
    if path.resolve() in stack:
        chain = " → ".join(p.name for p in (*stack, path.resolve()))
        raise DetcovError(f"profile includes itself ({chain})", location=Location(str(path)),
                          hint="remove the circular include")
    if path.suffix.lower() == ".json":
        return profile_from_stix(path, _read_json(path), kb)
    doc = load_yaml(path)
    if _is_dettect(doc):
        return profile_from_dettect(path, doc, kb)
    header = check_header(doc, path, PROFILE_FILE_TYPE, PROFILE_VERSIONS)
    if header:
        raise DetcovError(issues=header)
    model = validate_model(ProfileFile, doc, path)
    return _from_file(model, doc, path, kb, (*stack, path.resolve()))


def _read_json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise DetcovError(f"cannot read the JSON file ({exc})", location=Location(str(path)),
                          hint="a STIX 2.x bundle (JSON with \"type\": \"bundle\") is expected") from exc


def _is_dettect(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("file_type") == DETTECT_FILE_TYPE


def _at(doc: Any, path: Path, loc: Sequence[str | int]) -> Location:
    line, col = position(doc, loc)
    return Location(str(path), line, col)


def _from_file(model: ProfileFile, doc: Any, path: Path, kb: AttackKB, stack: Sequence[Path]) -> Profile:
    issues = IssueCollector()
    groups: dict[str, ProfileGroup] = {}
    for i, entry in enumerate(model.groups):
        member = _group(entry, kb, _at(doc, path, ["groups", i, "id"]), _at(doc, path, ["groups", i]), issues)
        if member is not None:
            groups.setdefault(member.key, member)
    for i, actor in enumerate(model.actors):
        groups.setdefault(actor.name, _actor(actor, kb, doc, path, i, issues))
    forced = _forced(model.techniques, kb, doc, path, issues)
    included = _includes(model.include, kb, doc, path, stack, issues)
    issues.raise_if_errors()
    for other in included:
        for g in other.groups:
            groups.setdefault(g.key, g)
        forced = _merge_forced(forced, other.forced)
    name = model.name or path.stem
    return Profile(
        name=name, title=model.title or name, source=str(path), attack_version=kb.version,
        groups=tuple(groups.values()), forced=forced, description=(model.description or "").strip(),
        platforms=tuple(model.platforms), sources=tuple(model.sources),
        issues=(*issues.issues, *(i for other in included for i in other.issues)),
    )


def _group(entry: GroupEntry, kb: AttackKB, at_id: Location, at_entry: Location,
           issues: IssueCollector) -> ProfileGroup | None:
    group = resolve_group(kb, entry.id, at_id, issues)
    if group is None:
        return None
    if entry.name and entry.name.casefold() not in {n.casefold() for n in (group.name, *group.aliases)}:
        issues.warning(f"{group.id} is called {group.name!r} in ATT&CK {kb.version}, not {entry.name!r}",
                       at_entry, f"write name: {group.name}")
    major = attack_major(kb)
    quotes = tuple(q.text for q in entry.quotes if q.applies_to(major))
    missing = [q for q in quotes if not quote_in(q, group.description)]
    for q in missing:
        issues.warning(f"quote not found in the ATT&CK {kb.version} description of {group.id}: {q!r}",
                       at_entry, "update the quote (or bound it with since:/until:)")
    found = tuple(q for q in quotes if q not in missing)
    return attack_group(kb, group, weight=entry.weight, quotes=found,
                        reason=entry.reason or (found[0] if found else None), note=entry.note)


def _actor(actor: Any, kb: AttackKB, doc: Any, path: Path, i: int, issues: IssueCollector) -> ProfileGroup:
    uses: list[GroupUse] = []
    for j, t in enumerate(actor.techniques):
        tid = resolve_technique(kb, t.id, _at(doc, path, ["actors", i, "techniques", j]), issues)
        if tid:
            uses.append(GroupUse(tid, Provenance.DIRECT, None, "", t.weight))
    for j, raw in enumerate(actor.software):
        sid = resolve_software(kb, raw, _at(doc, path, ["actors", i, "software", j]), issues)
        if sid:
            uses.extend(software_uses(kb, sid))
    linked = None
    if actor.attack_group:
        found = resolve_group(kb, actor.attack_group, _at(doc, path, ["actors", i, "attack_group"]), issues)
        linked = found.id if found else None
    if not uses:
        issues.error(f"actor {actor.name!r} has no usable technique or software",
                     _at(doc, path, ["actors", i]),
                     "add techniques: [T1566.001, ...] or software: [S0002, ...]")
    return ProfileGroup(key=actor.name, name=actor.name, kind=GroupKind.CUSTOM, uses=tuple(uses),
                        weight=actor.weight, note=actor.note, source=actor.source, attack_group=linked)


def _forced(entries: Sequence[TechniqueEntry], kb: AttackKB, doc: Any, path: Path,
            issues: IssueCollector) -> tuple[ForcedTechnique, ...]:
    out: list[ForcedTechnique] = []
    for j, t in enumerate(entries):
        tid = resolve_technique(kb, t.id, _at(doc, path, ["techniques", j]), issues)
        if tid:
            out.append(ForcedTechnique(tid, t.weight, t.note))
    return _merge_forced((), out)


def _merge_forced(first: Sequence[ForcedTechnique],
                  more: Sequence[ForcedTechnique]) -> tuple[ForcedTechnique, ...]:
    """One entry per technique: the highest weight floor, the first note."""
    merged: dict[str, ForcedTechnique] = {}
    for f in (*first, *more):
        old = merged.get(f.technique)
        merged[f.technique] = f if old is None else replace(old, weight=max(old.weight, f.weight),
                                                             note=old.note or f.note)
    return tuple(merged.values())


def _includes(names: Sequence[str], kb: AttackKB, doc: Any, path: Path, stack: Sequence[Path],
              issues: IssueCollector) -> list[Profile]:
    out = []
    for j, name in enumerate(names):
        relative = path.parent / name
        target: str | Path = relative if relative.is_file() else name
        try:
            out.append(_load(target, kb, stack))
        except DetcovError as exc:
            where = _at(doc, path, ["include", j])
            issues.error(f"include {name!r}: " + "; ".join(str(i) for i in exc.issues), where,
                         "fix the included profile or the include entry")
    return out


def load_profile_or_group(name: str, kb: AttackKB) -> Profile:
    """A profile (file or shipped name) or else a one-group profile for an ATT&CK group id/name/alias."""
    if Path(name).is_file() or shipped_profile_path(name) is not None:
        return load_profile(name, kb)
    issues = IssueCollector()
    group = resolve_group(kb, name, Location(name), issues)
    if group is None:
        raise DetcovError(
            f"{name!r} is neither a profile file, a shipped profile nor an ATT&CK {kb.version} group",
            hint=f"shipped profiles: {', '.join(shipped_profiles())}; groups: an id such as G0046 "
                 "or a name/alias such as FIN7")
    return Profile(name=group.name, title=f"{group.id} {group.name}", source=f"attack:{group.id}",
                   attack_version=kb.version, groups=(attack_group(kb, group),), issues=tuple(issues.issues))
