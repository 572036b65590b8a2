"""CSV files of simulation results: decoding, header binding (names, aliases), rows with their line numbers."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from detcov.errors import DetcovError, Issue, IssueCollector, Location
from detcov.simulations.model import report_unknown
from detcov.usertext import csv_rows, read_text

Spec = Mapping[str, Sequence[str]]  # canonical field -> accepted header names (folded)


def fold(name: str) -> str:
    """Names compare case-, space- and punctuation-insensitively: ``Alert ID`` == ``alert_id`` == ``AlertId``,
    ``TargetAssets`` == ``Target Assets``, ``NotDetected`` == ``Not Detected``."""
    return re.sub(r"[^a-z0-9()]+", "", name.strip().lower())


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    values: Mapping[str, str]  # canonical field -> cell text (stripped)

    def get(self, field: str) -> str:
        return self.values.get(field, "")


@dataclass(frozen=True, slots=True)
class Table:
    path: Path
    headers: tuple[str, ...]  # as written

    @property
    def folded(self) -> tuple[str, ...]:
        return tuple(fold(h) for h in self.headers)


def read_raw(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DetcovError(f"cannot read simulation results ({exc.strerror})", location=Location(str(path)),
                          hint="check the validation path in the scan config") from exc


def decode(path: Path) -> str:
    """UTF-8 (BOM optional) or UTF-16/32 with a BOM (PowerShell's Export-Csv); anything else is refused at the line
    of its first undecodable byte, naming Big5/cp1252 when it looks like one (:mod:`detcov.usertext`)."""
    return read_text(path, "simulation results", "check the validation path in the scan config")


def header_of(text: str) -> tuple[str, ...]:
    first = next(csv_rows(text.split("\n", 1)[0], "", []), (1, []))[1]
    return tuple(h.strip() for h in first)


def read_rows(path: Path, text: str, spec: Spec, required: Sequence[str], tool: str,
              issues: IssueCollector) -> list[Row]:
    """Rows keyed by canonical field. Missing required columns raise; unknown ones are one warning."""
    problems: list[Issue] = []  # records the csv module cannot read, cells over the size limit: at their line
    reader = csv_rows(text, str(path), problems)
    headers = tuple(h.strip() for h in next(reader, (1, []))[1])
    where = Location(str(path), 1, 1)
    index: dict[str, int] = {}
    unknown: list[str] = []
    aliases = {fold(alias): field for field, names in spec.items() for alias in names}
    for i, header in enumerate(headers):
        field = aliases.get(fold(header))
        if field is None:
            if header:
                unknown.append(header)
        elif field not in index:
            index[field] = i
    missing = [spec[f][0] for f in required if f not in index]
    if missing:
        raise DetcovError(f"{tool} CSV lacks column(s) {', '.join(missing)}", location=where,
                          hint=f"the header must name: {', '.join(spec[f][0] for f in required)}")
    report_unknown(unknown, where, f"{tool} columns", (names[0] for names in spec.values()), issues)
    rows: list[Row] = []
    for start, record in reader:
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(headers):
            issues.error(f"row has {len(record)} cells, the header {len(headers)}", Location(str(path), start),
                         "quote cells that contain commas")
            continue
        rows.append(Row(start, {f: record[i].strip() for f, i in index.items() if i < len(record)}))
    issues.extend(problems)
    return rows
