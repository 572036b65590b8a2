"""``detcov sector merge``: many shares → the sector table, with DuckDB (embedded) over the Parquet files.

One scan of the files counts institutions per (ATT&CK version, technique, scope class) and band; the few
thousand distinct ids are then resolved in Python against the merge's ATT&CK (revocations, the crosswalk) and
the counts summed per resolved id — exact, because no member holds two ids that map to one. When some do (a
crosswalk merge of two ids), the rows are first collapsed per member to the worst score, so nobody counts twice.
Counts of fewer than ``k`` institutions are suppressed (NULL, ``suppressed = true``). The SQL is plain: the same
queries run on Spark SQL over the same folder of Parquet files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detcov.attack import AttackKB
from detcov.errors import DetcovError, Issue
from detcov.sector.inputs import Member, discover, map_ids, mapping_issues
from detcov.sector.model import ALL, BANDS, KPIS, RULE_FAMILIES

DEFAULT_K = 5
_SHORT = {"visibility": "vis", "detection": "det", "blocking": "blk"}


def band_columns() -> list[tuple[str, str, int]]:
    """(column name, score column, band) for every band: ``vis_blind`` = visibility band 0, …"""
    return [(f"{_SHORT[score]}_{name}", score, i) for score, names in BANDS.items() for i, name in enumerate(names)]


def count_columns() -> list[tuple[str, str]]:
    """(column, condition on a share row) of every institution count in the sector table."""
    out = [(col, f"{score} = {i}") for col, score, i in band_columns()]
    out += [("proven", "evidence = 2"), ("disproved", "evidence = 3")]
    out += [(f"rules_{f}", f"rules_{f} > 0") for f in RULE_FAMILIES]
    return [*out, ("blind_or_undetected", "visibility = 0 OR detection = 0")]


def _listed(files: Sequence[str]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def _top_bands() -> dict[str, list[str]]:
    """Each score's top band column → its other band columns: the top band is counted as members minus those
    (one aggregate less per score over the million rows)."""
    out: dict[str, list[str]] = {}
    for score, names in BANDS.items():
        cols = [f"{_SHORT[score]}_{n}" for n in names]
        out[cols[-1]] = cols[:-1]
    return out


def _histogram_sql(source: str) -> str:
    counts = ",\n  ".join(f"count(*) FILTER (WHERE {cond}) AS {col}" for col, cond in count_columns()
                           if col not in _top_bands())
    return f"""
SELECT attack_version, technique, scope_class, count(*) AS members, sum(threat_weight)::DOUBLE AS weight_sum,
  {counts}
FROM {source} GROUP BY attack_version, technique, scope_class"""


def _collapsed_sql(files: Sequence[str]) -> str:
    """Share rows with ids mapped, collapsed per member to the worst value (only when the mapping merges ids)."""
    rules = ", ".join(f"max(p.rules_{f}) AS rules_{f}" for f in RULE_FAMILIES)
    return f"""(
SELECT '' AS attack_version, i.current AS technique, p.scope_class, min(p.visibility) AS visibility,
  min(p.detection) AS detection, min(p.blocking) AS blocking,
  CASE WHEN bool_or(p.evidence = 3) THEN 3 WHEN bool_and(p.evidence = 2) THEN 2
    WHEN bool_or(p.evidence IN (1, 2)) THEN 1 ELSE 0 END AS evidence,
  {rules}, max(p.threat_weight) AS threat_weight
FROM read_parquet({_listed(files)}) AS p
JOIN idmap AS i ON i.attack_version = p.attack_version AND i.technique = p.technique
GROUP BY p.submission, i.current, p.scope_class)"""


def _sector_sql(k: int) -> str:
    top = _top_bands()

    def total(col: str) -> str:
        return " - ".join(["sum(h.members)", *(f"sum(h.{c})" for c in top[col])]) if col in top else f"sum(h.{col})"

    counts = ",\n  ".join(f"CASE WHEN sum(h.members) >= {k} THEN ({total(c)})::BIGINT END AS {c}"
                          for c, _ in count_columns())
    return f"""
SELECT i.current AS technique, h.scope_class, sum(h.members)::BIGINT AS members,
  sum(h.members) < {k} AS suppressed, (sum(h.weight_sum) / sum(h.members))::DOUBLE AS weight,
  {counts}
FROM histogram AS h JOIN idmap AS i ON i.attack_version = h.attack_version AND i.technique = h.technique
GROUP BY i.current, h.scope_class ORDER BY i.current, h.scope_class"""


@dataclass(frozen=True)
class Sector:
    """The merged sector: per-technique and per-technique × scope-class aggregates, the KPI values."""

    attack_version: str
    members: int
    k: int
    techniques: list[dict[str, Any]]  # rows, institution-wide (each member's worst scope class)
    classes: list[dict[str, Any]]  # rows per technique × scope class
    kpis: dict[str, list[float]]  # KPI -> every member's value (whole percent), sorted, not linked to members
    versions: dict[str, int]  # ATT&CK version -> members
    issues: list[Issue] = field(default_factory=list)


def connect(threads: int | None = None) -> Any:
    """An in-memory DuckDB. One thread by default: at a few hundred members it spends the least CPU and memory
    (measured in ``benchmarks/sector.py``); pass more for a shorter wall clock on a big host."""
    try:
        import duckdb
    except ModuleNotFoundError as exc:  # the [sector] extra
        raise DetcovError("the sector merge needs DuckDB", hint="pip install 'detcov[sector]'") from exc
    con = duckdb.connect(":memory:", config={"threads": threads or 1})
    con.execute("SET enable_progress_bar = false")
    return con


def _rows(con: Any, sql: str) -> list[dict[str, Any]]:
    """A query's rows as dicts (plain Python: the merge needs neither pyarrow nor numpy)."""
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _load_idmap(con: Any, rows: Sequence[tuple[str, str, str]]) -> None:
    """The id mapping as a DuckDB table, from three list parameters (registering an Arrow table would import
    pandas; inserting row by row is slow)."""
    columns = [[r[i] for r in rows] for i in range(3)]
    con.execute("CREATE OR REPLACE TEMP TABLE idmap AS SELECT unnest($1::VARCHAR[]) AS attack_version, "
                "unnest($2::VARCHAR[]) AS technique, unnest($3::VARCHAR[]) AS current", columns)


def merge_members(members: Sequence[Member], kb: AttackKB, *, k: int = DEFAULT_K, threads: int | None = None
                  ) -> Sector:
    """Aggregate the members' shares (validated by :func:`~detcov.sector.inputs.discover`)."""
    con = connect(threads)
    files = [str(m.parquet) for m in members]
    con.execute(f"CREATE TEMP TABLE histogram AS {_histogram_sql(f'read_parquet({_listed(files)})')}")
    pairs = con.execute("SELECT DISTINCT attack_version, technique FROM histogram ORDER BY ALL").fetchall()
    mapping = map_ids(kb, pairs)
    _load_idmap(con, mapping.rows)
    if not mapping.injective:
        con.execute(f"CREATE OR REPLACE TEMP TABLE histogram AS {_histogram_sql(_collapsed_sql(files))}")
        _load_idmap(con, [("", c, c) for c in sorted({r[2] for r in mapping.rows})])
    con.execute(f"CREATE TEMP TABLE sector AS {_sector_sql(k)}")
    techniques = _rows(con, f"SELECT * EXCLUDE (scope_class) FROM sector WHERE scope_class = '{ALL}'")
    classes = _rows(con, f"SELECT * FROM sector WHERE scope_class <> '{ALL}'")
    con.close()
    versions: dict[str, int] = {}
    for m in members:
        versions[m.manifest.attack_version] = versions.get(m.manifest.attack_version, 0) + 1
    kpis = {kpi: sorted(m.manifest.kpis[kpi] for m in members if kpi in m.manifest.kpis) for kpi in KPIS}
    return Sector(kb.version or "", len(members), k, techniques, classes, kpis, versions,
                  mapping_issues(kb, mapping, members))


def merge_folder(folder: Path, kb: AttackKB, *, k: int = DEFAULT_K, threads: int | None = None) -> Sector:
    """Every share under ``folder``, validated and merged."""
    return merge_members(discover(folder), kb, k=k, threads=threads)
