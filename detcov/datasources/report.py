"""Visibility scores as a table (CSV / Parquet) and a per-tactic summary."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from detcov.attack import AttackKB
from detcov.csvsafe import frame_csv
from detcov.datasources.visibility import VisibilityScore
from detcov.errors import DetcovError, Location
from detcov.fileio import atomic_path, atomic_write

COLUMNS = ("technique", "name", "tactics", "system_group", "platforms", "score", "coverage", "applicable",
           "present", "missing", "devices", "not_in_siem", "analytics", "explanation")


def score_rows(scores: Iterable[VisibilityScore], kb: AttackKB) -> list[dict[str, Any]]:
    rows = []
    for s in scores:
        t = kb.technique(s.technique)
        rows.append({
            "technique": s.technique,
            "name": t.name if t else "",
            "tactics": ";".join(t.tactics) if t else "",
            "system_group": s.system_group,
            "platforms": ";".join(s.platforms),
            "score": s.score,
            "coverage": round(s.coverage, 4),
            "applicable": s.applicable,
            "present": ";".join(c.label for c in s.present),
            "missing": ";".join(c.label for c in s.missing),
            "devices": ";".join(s.devices),
            "not_in_siem": ";".join(dict.fromkeys(n for c in s.missing for n in c.not_in_siem)),
            "analytics": ";".join(s.analytics),
            "explanation": s.explain(),
        })
    return rows


def scores_frame(scores: Iterable[VisibilityScore], kb: AttackKB) -> pd.DataFrame:
    return pd.DataFrame(score_rows(scores, kb), columns=list(COLUMNS))


def write_scores(scores: Iterable[VisibilityScore], kb: AttackKB, path: str | Path) -> Path:
    """CSV or Parquet by the file suffix (``.csv``, ``.parquet``)."""
    out = Path(path)
    frame = scores_frame(scores, kb)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise DetcovError(f"cannot write {out.name}: unknown format", location=Location(str(out)),
                          hint="use a .csv or .parquet file name")
    if suffix == ".csv":
        atomic_write(out, frame_csv(frame))
    else:
        with atomic_path(out) as tmp:
            frame.to_parquet(tmp, index=False)
    return out


@dataclass(frozen=True, slots=True)
class TacticSummary:
    tactic: str  # tactic name
    system_group: str
    techniques: int  # applicable techniques (ATT&CK names telemetry for them on the group's platforms)
    visible: int  # score >= 1
    good: int  # score >= 3
    mean_score: float


def summarize_by_tactic(scores: Sequence[VisibilityScore], kb: AttackKB) -> list[TacticSummary]:
    """Per tactic (matrix order) × system group: how many techniques are visible, and the mean score."""
    buckets: dict[tuple[str, str], list[int]] = defaultdict(list)
    groups: list[str] = list(dict.fromkeys(s.system_group for s in scores))
    for s in scores:
        t = kb.technique(s.technique)
        if t is None or not s.applicable:
            continue
        for tac in t.tactics:
            buckets[(tac, s.system_group)].append(s.score)
    out = []
    for tactic in kb.tactics:
        for g in groups:
            values = buckets.get((tactic.shortname, g))
            if values:
                out.append(TacticSummary(tactic.name, g, len(values), sum(v >= 1 for v in values),
                                         sum(v >= 3 for v in values), sum(values) / len(values)))
    return out
