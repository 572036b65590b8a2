"""Where one institution stands in its sector: its percentile per KPI against the members' values.

Percentile = the share of members below the institution plus half of those level with it (the mid-rank
percentile; 50 = the median member). Values are compared in whole percent, as the shares carry them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from detcov.errors import DetcovError, Location
from detcov.sector.model import KPIS

SECTOR_FILE = "sector.json"
SECTOR_FILE_TYPE = "detcov-sector"


@dataclass(frozen=True, slots=True)
class Position:
    kpi: str
    value: float  # the institution's percent
    percentile: float  # 0..100
    median: float
    members: int


def percentile(value: float, values: Sequence[float]) -> float:
    """Mid-rank percentile of ``value`` among ``values`` (0..100), compared in whole percent."""
    if not values:
        raise ValueError("no sector values")
    mine = round(value)
    below = sum(1 for v in values if round(v) < mine)
    level = sum(1 for v in values if round(v) == mine)
    return round(100 * (below + level / 2) / len(values), 1)


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def sector_position(kpis: Mapping[str, float], sector: Mapping[str, Sequence[float]]) -> list[Position]:
    """The institution's percentile per KPI it has and the sector has values for."""
    return [Position(k, kpis[k], percentile(kpis[k], sector[k]), _median(sector[k]), len(sector[k]))
            for k in KPIS if k in kpis and sector.get(k)]


def load_sector_kpis(path: Path) -> dict[str, list[float]]:
    """The members' KPI values from a merged sector (its folder or its ``sector.json``)."""
    file = path / SECTOR_FILE if path.is_dir() else path
    where = Location(str(file))
    try:
        data = orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise DetcovError(f"cannot read the sector file ({exc})", location=where,
                          hint="give the --out folder of `detcov sector merge`") from exc
    if not isinstance(data, dict) or data.get("file_type") != SECTOR_FILE_TYPE:
        raise DetcovError("not a detcov sector file", location=where,
                          hint="give the --out folder of `detcov sector merge`")
    kpis = data.get("kpis") or {}
    if not kpis:
        raise DetcovError("the sector has too few members to compare against (its KPIs are suppressed)",
                          location=where, hint="merge more members' shares (at least k)")
    return {str(k): [float(v) for v in vs] for k, vs in kpis.items()}
