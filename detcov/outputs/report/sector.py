"""The sector block of the quarterly report: the institution's percentile per KPI (``detcov report --sector``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from detcov.coverage.summary import Summary
from detcov.outputs.report.i18n import Catalogue
from detcov.outputs.report.tables import ReportTable
from detcov.sector.model import KPIS
from detcov.sector.position import load_sector_kpis, sector_position


def headline_kpis(summary: Summary) -> dict[str, float]:
    """The institution's headline percent per KPI, as its share carries them."""
    return {k: float(getattr(summary.kpis, k).percent) for k in KPIS}


def sector_table(kpis: Mapping[str, float], sector: Mapping[str, Sequence[float]], t: Catalogue) -> ReportTable:
    """KPI, this institution's percent, the sector median and its percentile (one row per KPI)."""
    rows = tuple((t(f"kpi.{p.kpi}"), p.value, p.median, p.percentile) for p in sector_position(kpis, sector))
    members = max((len(v) for v in sector.values()), default=0)
    return ReportTable("sector", t("sector.intro", members=members),
                       (t("sector.kpi"), t("sector.value"), t("sector.median"), t("sector.percentile")), rows)


def load_sector(path: Path | None) -> Mapping[str, Sequence[float]] | None:
    return None if path is None else load_sector_kpis(path)
