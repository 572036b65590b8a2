"""Reading a folder of shares for the merge: manifests validated, ATT&CK ids mapped to the merge's version.

Every problem of every file is collected and raised together (``file: what — fix``); nothing is dropped
silently: technique ids with no equivalent in the merge's ATT&CK are counted and reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
from pydantic import ValidationError

from detcov.attack import AttackKB
from detcov.attack.ids import IdStatus
from detcov.errors import DetcovError, Issue, IssueCollector, Location, Severity
from detcov.sector.model import FILE_TYPE, SCHEMA_VERSION, Manifest


@dataclass(frozen=True, slots=True)
class Member:
    manifest: Manifest
    parquet: Path


@dataclass(frozen=True, slots=True)
class IdMapping:
    """(attack version, id as shared) → id in the merge's ATT&CK; ``dropped`` are those with none."""

    rows: tuple[tuple[str, str, str], ...]
    dropped: tuple[tuple[str, str, str], ...]  # (version, id, why)
    remapped: int  # ids counted under another id (revoked, crosswalked)

    @property
    def injective(self) -> bool:
        """No two ids of one ATT&CK version map to the same id (then no member's rows need collapsing)."""
        targets = {(version, current) for version, _, current in self.rows}
        return len(targets) == len(self.rows)


def _manifest(path: Path, issues: IssueCollector) -> Manifest | None:
    where = Location(str(path))
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        issues.add(Issue(f"not a readable JSON manifest ({exc})", where, "re-export it with `detcov share`"))
        return None
    if not isinstance(data, dict) or data.get("file_type") != FILE_TYPE:
        return None  # some other JSON in the folder: not a share
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        newer = isinstance(version, int) and version > SCHEMA_VERSION
        issues.add(Issue(f"share schema version {version!r}, this detcov reads version {SCHEMA_VERSION}", where,
                         "upgrade detcov for the merge" if newer else "re-export it with this detcov's `detcov share`"))
        return None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            issues.add(Issue(f"manifest field {field}: {err['msg']}", where, "re-export it with `detcov share`"))
        return None


def discover(folder: Path) -> list[Member]:
    """The shares under ``folder`` (recursive): each manifest with its Parquet file, duplicates rejected."""
    if not folder.is_dir():
        raise DetcovError(f"not a folder: {folder}", hint="give the folder the members' share files were put in")
    issues = IssueCollector()
    members: list[Member] = []
    seen: dict[str, Path] = {}
    for path in sorted(folder.rglob("*.json")):
        manifest = _manifest(path, issues)
        if manifest is None:
            continue
        parquet = path.with_suffix(".parquet")
        if not parquet.is_file():
            issues.add(Issue(f"its data file {parquet.name} is missing", Location(str(path)),
                             "copy the .parquet file written beside it by `detcov share`"))
        elif manifest.submission in seen:
            issues.add(Issue(f"submission {manifest.submission} is also in {seen[manifest.submission]}",
                             Location(str(path)), "remove one copy: a member is counted once"))
        else:
            seen[manifest.submission] = path
            members.append(Member(manifest, parquet))
    issues.raise_if_errors()
    if not members:
        raise DetcovError(f"no detcov share under {folder}", hint="put the members' share-*.json + .parquet there")
    return members


def map_ids(kb: AttackKB, pairs: Iterable[tuple[str, str]]) -> IdMapping:
    """Each member's technique id resolved in the merge's ATT&CK (revocations and the crosswalk followed)."""
    rows, dropped, remapped = [], [], 0
    for version, tid in pairs:
        res = kb.resolve(tid)
        if res.current is None:
            dropped.append((version, tid, res.note or res.status.value))
            continue
        remapped += res.status is not IdStatus.CURRENT
        rows.append((version, tid, res.current))
    return IdMapping(tuple(rows), tuple(dropped), remapped)


def mapping_issues(kb: AttackKB, mapping: IdMapping, members: Sequence[Member]) -> list[Issue]:
    """Warnings: versions other than the merge's, and ids with no equivalent (counted, never silent)."""
    versions = sorted({m.manifest.attack_version for m in members})
    out = []
    others = [v for v in versions if v != kb.version]
    if others:
        out.append(Issue(f"members use ATT&CK {', '.join(versions)}; ids mapped to {kb.version} ({mapping.remapped} "
                         "ids counted under a replacement or crosswalk equivalent)", severity=Severity.INFO))
    if mapping.dropped:
        sample = "; ".join(f"{t} (ATT&CK {v}): {why}" for v, t, why in mapping.dropped[:3])
        out.append(Issue(f"{len(mapping.dropped)} technique ids have no equivalent in ATT&CK {kb.version} and are "
                         f"left out of the sector table: {sample}", severity=Severity.WARNING,
                         hint="merge with the newest ATT&CK the members use (--attack-version)"))
    return out
