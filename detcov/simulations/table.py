"""CSV files of simulation results: decoding, header binding (names, aliases), rows with their line numbers."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from detcov.errors import DetcovError, IssueCollector, Location
from detcov.simulations.model import report_unknown

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
    raw = read_raw(path)
    # PowerShell's Export-Csv/Out-File may write UTF-16 with a BOM; everything else is UTF-8 (BOM optional).
    encoding = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DetcovError(f"is not UTF-8 text ({exc.reason} at byte {exc.start})", location=Location(str(path)),
                          hint="save the file as UTF-8 CSV") from exc


def header_of(text: str) -> tuple[str, ...]:
    first = next(csv.reader(io.StringIO(text)), [])
    return tuple(h.strip() for h in first)


def read_rows(path: Path, text: str, spec: Spec, required: Sequence[str], tool: str,
              issues: IssueCollector) -> list[Row]:
    """Rows keyed by canonical field. Missing required columns raise; unknown ones are one warning."""
    reader = csv.reader(io.StringIO(text))
    headers = tuple(h.strip() for h in next(reader, []))
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
    line = 2
    for record in reader:
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(headers):
            issues.error(f"row has {len(record)} cells, the header {len(headers)}", Location(str(path), start),
                         "quote cells that contain commas")
            continue
        rows.append(Row(start, {f: record[i].strip() for f, i in index.items() if i < len(record)}))
    return rows
