"""DeTT&CT group-administration files (``file_type: group-administration``) as profiles.

Each enabled ``groups[]`` entry is a custom actor; entries with the same ``group_name`` (several
campaigns) are merged, keeping the highest weight per technique. ``technique_id`` may be a list or
DeTT&CT's ``{T1234: weight}`` mapping; ``software_id`` adds the techniques ATT&CK gives that software.
Old (revoked) technique ids are followed to their replacement, with a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detcov.apt_profiles.files import DETTECT_FILE_TYPE, DETTECT_VERSIONS, DettectGroup, DettectGroupFile
from detcov.apt_profiles.model import GroupKind, GroupUse, Profile, ProfileGroup
from detcov.apt_profiles.resolve import resolve_software, resolve_technique, software_uses
from detcov.attack import AttackKB
from detcov.attack.model import Provenance
from detcov.errors import DetcovError, Issue, IssueCollector, Location, Severity
from detcov.userfiles import check_header, position, validate_model


def profile_from_dettect(path: Path, doc: Any, kb: AttackKB) -> Profile:
    """A profile with one custom group per enabled DeTT&CT ``group_name``."""
    header = check_header(doc, path, DETTECT_FILE_TYPE, DETTECT_VERSIONS)
    if header:
        raise DetcovError(issues=header)
    model = validate_model(DettectGroupFile, doc, path)
    issues = IssueCollector()
    merged: dict[str, dict[tuple[str, Provenance, str | None], GroupUse]] = {}
    campaigns: dict[str, list[str]] = {}
    for i, entry in enumerate(model.groups):
        where = _at(doc, path, ["groups", i])
        if not entry.enabled:
            issues.add(Issue(f"group {entry.group_name!r} campaign {entry.campaign!r} is disabled; skipped",
                             where,
                             "set 'enabled: true' to count it", Severity.INFO))
            continue
        uses = merged.setdefault(entry.group_name, {})
        campaigns.setdefault(entry.group_name, []).append(entry.campaign or "")
        for use in _entry_uses(entry, kb, doc, path, i, issues):
            key = (use.technique, use.provenance, use.via)
            if key not in uses or uses[key].weight < use.weight:
                uses[key] = use
    issues.raise_if_errors()
    groups = tuple(
        ProfileGroup(key=name, name=name, kind=GroupKind.CUSTOM, uses=tuple(uses.values()),
                     note=_campaign_note(campaigns[name]), source=str(path))
        for name, uses in merged.items()
    )
    if not groups:
        raise DetcovError("no enabled group in the DeTT&CT file", location=Location(str(path)),
                          hint="set 'enabled: true' on at least one groups[] entry")
    platforms = [model.platform] if isinstance(model.platform, str) else list(model.platform or ())
    return Profile(name=model.name or path.stem, title=model.name or path.stem, source=str(path),
                   attack_version=kb.version, groups=groups, platforms=tuple(platforms),
                   description="DeTT&CT group-administration file", issues=tuple(issues.issues))


def _at(doc: Any, path: Path, loc: Sequence[str | int]) -> Location:
    line, col = position(doc, loc)
    return Location(str(path), line, col)


def _entry_uses(entry: DettectGroup, kb: AttackKB, doc: Any, path: Path, i: int,
                issues: IssueCollector) -> list[GroupUse]:
    uses: list[GroupUse] = []
    for j, t in enumerate(entry.technique_id):
        tid = resolve_technique(kb, t.id, _at(doc, path, ["groups", i, "technique_id", j]), issues)
        if tid:
            uses.append(GroupUse(tid, Provenance.DIRECT, entry.campaign, "", t.weight))
    for j, raw in enumerate(entry.software_id or ()):
        sid = resolve_software(kb, raw, _at(doc, path, ["groups", i, "software_id", j]), issues)
        if sid:
            uses.extend(software_uses(kb, sid))
    return uses


def _campaign_note(names: list[str]) -> str | None:
    named = [n for n in names if n]
    return f"campaigns: {', '.join(named)}" if named else None

