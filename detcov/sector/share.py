"""``detcov share``: one institution's coverage → an anonymised share (Parquet rows + a JSON manifest).

Pure part: :func:`scope_classes` (groups → scope classes, generalising small ones) and :func:`share_rows`
(cells → one row per technique × scope class, scores as bands, rule counts top-coded). I/O: :func:`write_share`.
The rules are explained in :mod:`detcov.sector`.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from detcov import __version__
from detcov.defaults import DEFAULT_MIN_HOSTS
from detcov.fileio import atomic_write
from detcov.sector.model import (
    ALL,
    COLUMNS,
    EVIDENCE,
    KINDS,
    RULE_FAMILIES,
    RULE_TOP_CODE,
    Anonymisation,
    Group,
    Manifest,
    MemberCell,
    MemberCoverage,
    blocking_band,
    detection_band,
    tier,
    visibility_band,
)

OTHER = "other"


@dataclass(frozen=True, slots=True)
class ClassPlan:
    """Which scope class each group goes to, and how many classes were generalised or suppressed."""

    of_group: Mapping[str, str]  # group name -> scope class; a suppressed group is absent
    generalised: int
    suppressed: int


def _kind(group: Group) -> str:
    return group.kind if group.kind in KINDS else OTHER


def _hosts(groups: Iterable[Group]) -> int | None:
    """Hosts of a class; None when no group of it counts hosts (cloud tenants, network zones)."""
    counted = [g.hosts for g in groups if g.hosts is not None]
    return sum(counted) if counted else None


def _small(groups: Sequence[Group], min_hosts: int) -> bool:
    hosts = _hosts(groups)
    return hosts is not None and hosts < min_hosts


def _tiered(kind: str, group: Group) -> str:
    return f"{kind}/{tier(group.criticality)}"


def _by(groups: Iterable[Group], key: Callable[[Group], str]) -> dict[str, list[Group]]:
    out: dict[str, list[Group]] = defaultdict(list)
    for g in groups:
        out[key(g)].append(g)
    return out


def scope_classes(groups: Sequence[Group], *, tiers: bool = False, min_hosts: int = DEFAULT_MIN_HOSTS) -> ClassPlan:
    """Group kind (× criticality tier) per group, generalised until every class has ``min_hosts`` hosts: a kind
    with a too-small tier is shared without tiers; a kind still too small is folded into ``other``; an ``other``
    still too small is left out (suppressed). A class whose groups count no hosts is not checked."""
    kinds = _by(groups, _kind)
    generalised = 0
    for kind in [k for k in sorted(kinds) if k != OTHER]:
        if _small(kinds[kind], min_hosts):
            kinds[OTHER].extend(kinds.pop(kind))
            generalised += 1
    of_group: dict[str, str] = {}
    suppressed = 0
    for kind, members in kinds.items():
        if _small(members, min_hosts):
            suppressed += 1
            continue
        classes = _by(members, partial(_tiered, kind)) if tiers else {kind: members}
        if len(classes) > 1 and any(_small(gs, min_hosts) for gs in classes.values()):
            classes, generalised = {kind: members}, generalised + 1
        of_group.update({g.name: cls for cls, gs in classes.items() for g in gs})
    return ClassPlan(of_group, generalised, suppressed)


def _evidence(values: Iterable[str]) -> int:
    """Of a class: disproved if any group's is, proven if every group's is, claimed if any is claimed/proven."""
    seen = set(values)
    if "disproved" in seen:
        return EVIDENCE.index("disproved")
    if seen == {"proven"}:
        return EVIDENCE.index("proven")
    return EVIDENCE.index("claimed") if seen & {"claimed", "proven"} else 0


def share_rows(coverage: MemberCoverage, plan: ClassPlan, submission: str) -> pa.Table:
    """One row per technique × scope class over the applicable, observable cells: the class's worst band
    (visibility, detection, blocking), its evidence, distinct healthy rules per family (top-coded), the weight;
    plus one row per technique for the institution as a whole (scope class ``all``: its worst class)."""
    per: dict[tuple[str, str], list[MemberCell]] = defaultdict(list)
    for cell in coverage.cells:
        cls = plan.of_group.get(cell.group)
        if cls is not None and cell.applicable and cell.observable:
            per[(cell.technique, cls)].append(cell)
            per[(cell.technique, ALL)].append(cell)
    cols: dict[str, list[object]] = {c: [] for c in COLUMNS}
    for (tid, cls), cells in sorted(per.items()):
        rules: dict[str, set[str]] = defaultdict(set)
        for cell in cells:
            for family, key in cell.rules:
                rules[family].add(key)
        row: dict[str, object] = {
            "submission": submission, "attack_version": coverage.attack_version, "technique": tid,
            "scope_class": cls, "visibility": min(visibility_band(c.visibility) for c in cells),
            "detection": min(detection_band(c.detection) for c in cells),
            "blocking": min(blocking_band(c.blocking) for c in cells),
            "evidence": _evidence(c.evidence for c in cells),
            "threat_weight": round(coverage.weights.get(tid, 0.0), 3),
        }
        row.update({f"rules_{f}": min(len(rules.get(f, ())), RULE_TOP_CODE) for f in RULE_FAMILIES})
        for c in COLUMNS:
            cols[c].append(row[c])
    return pa.table({c: pa.array(v, type=SCHEMA.field(c).type) for c, v in cols.items()}, schema=SCHEMA)


SCHEMA = pa.schema([
    ("submission", pa.string()), ("attack_version", pa.string()), ("technique", pa.string()),
    ("scope_class", pa.string()), ("visibility", pa.int8()), ("detection", pa.int8()), ("blocking", pa.int8()),
    ("evidence", pa.int8()), *((f"rules_{f}", pa.int8()) for f in RULE_FAMILIES), ("threat_weight", pa.float32()),
])


def build_share(coverage: MemberCoverage, *, tiers: bool = False, min_hosts: int = DEFAULT_MIN_HOSTS,
                submission: str | None = None, today: dt.date | None = None) -> tuple[pa.Table, Manifest]:
    """The share's rows and manifest (nothing written)."""
    submission = submission or secrets.token_hex(8)
    plan = scope_classes(coverage.groups, tiers=tiers, min_hosts=min_hosts)
    table = share_rows(coverage, plan, submission)
    manifest = Manifest(
        submission=submission, created=(today or dt.datetime.now(dt.UTC).date()).isoformat(),
        detcov_version=__version__, attack_version=coverage.attack_version, rows=table.num_rows,
        scope_classes=sorted(set(plan.of_group.values())),
        kpis={k: float(round(v)) for k, v in coverage.kpis.items()},
        anonymisation=Anonymisation(min_hosts=min_hosts, tiers=tiers, generalised=plan.generalised,
                                    suppressed=plan.suppressed),
    )
    return table, manifest


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def write_share(out_dir: Path, table: pa.Table, manifest: Manifest) -> tuple[Path, Path]:
    """``share-<submission>.parquet`` and ``.json`` in ``out_dir`` (atomically; never overwrites another share)."""
    stem = out_dir / f"share-{manifest.submission}"
    parquet, meta = stem.with_suffix(".parquet"), stem.with_suffix(".json")
    atomic_write(parquet, parquet_bytes(table))
    atomic_write(meta, orjson.dumps(manifest.model_dump(), option=orjson.OPT_INDENT_2) + b"\n")
    return parquet, meta
