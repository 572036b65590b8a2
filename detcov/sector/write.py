"""Writing a merged sector: Parquet tables, ``sector.json``, a heatmap page and a Navigator layer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from detcov import __version__
from detcov.attack import AttackKB
from detcov.fileio import atomic_write
from detcov.outputs.colors import GAPS_GRADIENT, ViewScale
from detcov.outputs.navigator import View, build_layer, write_layer
from detcov.rulepack.model import Candidate
from detcov.sector.merge import Sector
from detcov.sector.model import SCHEMA_VERSION
from detcov.sector.position import SECTOR_FILE, SECTOR_FILE_TYPE
from detcov.sector.share import parquet_bytes
from detcov.sector.table import SectorTechnique, gap_record, heatmap_cells, weighted_shares

SECTOR_SCALE = ViewScale("Institutions blind or without detection", 0, 100, GAPS_GRADIENT, short="% no detection",
                         worse_high=True)
HEATMAP_TITLE = "Sector: share of institutions blind or without detection, per technique"


def _table(rows: Sequence[Mapping[str, Any]], extra: Sequence[tuple[str, Any]] = ()) -> pa.Table:
    """Rows as an Arrow table, count columns typed even when every value is NULL (all suppressed)."""
    named = {name for name, _ in extra}
    columns = [c for c in (rows[0] if rows else ("technique",)) if c not in named]
    fields = [pa.field(c, pa.string() if c in ("technique", "scope_class") else pa.bool_() if c == "suppressed"
                       else pa.float64() if c == "weight" else pa.int64()) for c in columns]
    fields += [pa.field(name, kind) for name, kind in extra]
    return pa.Table.from_pylist([dict(r) for r in rows], schema=pa.schema(fields))


def _enriched(rows: Sequence[SectorTechnique], sector: Sector) -> pa.Table:
    """The per-technique table with name, tactics, shares and gap score added (for readers of the Parquet)."""
    added = [{"name": r.name, "tactics": ",".join(r.tactics), "share_blind": r.blind,
              "share_undetected": r.undetected, "share_blind_or_undetected": r.blind_or_undetected,
              "gap_score": r.gap_score} for r in rows]
    merged = [{**row, **more} for row, more in zip(sector.techniques, added, strict=True)]
    return _table(merged, [("name", pa.string()), ("tactics", pa.string()), ("share_blind", pa.float64()),
                           ("share_undetected", pa.float64()), ("share_blind_or_undetected", pa.float64()),
                           ("gap_score", pa.float64())])


def _kpi_table(kpis: Mapping[str, Sequence[float]]) -> pa.Table:
    return pa.table({"kpi": pa.array([k for k, vs in kpis.items() for _ in vs], pa.string()),
                     "percent": pa.array([v for vs in kpis.values() for v in vs], pa.float64())})


def sector_document(sector: Sector, rows: Sequence[SectorTechnique], gaps: Sequence[SectorTechnique],
                    picks: Mapping[str, Sequence[Candidate]], corpus: bool) -> dict[str, Any]:
    return {
        "file_type": SECTOR_FILE_TYPE, "schema_version": SCHEMA_VERSION, "detcov_version": __version__,
        "created": dt.datetime.now(dt.UTC).date().isoformat(), "attack_version": sector.attack_version,
        "members": sector.members, "member_attack_versions": sector.versions, "k": sector.k,
        "suppressed_techniques": sum(1 for r in sector.techniques if r["suppressed"]),
        "suppressed_cells": sum(1 for r in sector.classes if r["suppressed"]),
        "kpis": sector.kpis if sector.members >= sector.k else {},
        "weighted": weighted_shares(rows),
        "gap_score": "financial threat weight x share of institutions blind or without detection "
                     "(each institution by its worst scope class)",
        "rule_pack": "Sigma candidates from the given corpus" if corpus else "no Sigma corpus given (--sigma)",
        "top_gaps": [gap_record(g, picks.get(g.technique, ())) for g in gaps],
        "notes": [str(i) for i in sector.issues],
    }


def write_sector(out: Path, sector: Sector, kb: AttackKB, rows: Sequence[SectorTechnique],
                 gaps: Sequence[SectorTechnique], picks: Mapping[str, Sequence[Candidate]], *, corpus: bool,
                 html: bool = True) -> list[Path]:
    """Every output of a merge into ``out``; each file written atomically."""
    document = sector_document(sector, rows, gaps, picks, corpus)
    files = {
        "sector-techniques.parquet": parquet_bytes(_enriched(rows, sector)),
        "sector-classes.parquet": parquet_bytes(_table(sector.classes)),
        "sector-kpis.parquet": parquet_bytes(_kpi_table(sector.kpis if sector.members >= sector.k else {})),
        SECTOR_FILE: orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n",
    }
    written = []
    for name, content in files.items():
        atomic_write(out / name, content)
        written.append(out / name)
    cells = heatmap_cells(rows, sector.k)
    description = f"{sector.members} institutions, ATT&CK {sector.attack_version}; {SECTOR_SCALE.name}"
    layer = build_layer(kb, View.GAPS, cells, name="Sector gaps", description=description, scale=SECTOR_SCALE)
    written.append(write_layer(out / "sector-layer.json", layer))
    if html:
        from detcov.outputs.heatmap import matrix_figure, render_html

        figure = matrix_figure(kb, cells, View.GAPS, title=HEATMAP_TITLE, scale=SECTOR_SCALE)
        page = render_html([(description, figure)], title=HEATMAP_TITLE)
        atomic_write(out / "sector-heatmap.html", page.encode("utf-8"))
        written.append(out / "sector-heatmap.html")
    return written
