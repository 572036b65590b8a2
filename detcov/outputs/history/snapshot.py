"""One recorded scan: its ``summary.json`` and its technique, rule and device tables, read from a scan folder.

The rows are frozen dataclasses whose field names are the scan's CSV column names (and the history store's
column names), so one generic reader and one generic writer serve all three tables.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from detcov.coverage.summary import Summary
from detcov.csvsafe import restore
from detcov.errors import DetcovError, Issue, Location

LIST_SEPARATOR = ";"
_FALSE = {"", "false", "0", "no", "n", "f", "none"}  # anything else is true: a list of SIEM ids in `siem` too


@dataclass(frozen=True, slots=True)
class TechniqueRow:
    technique: str
    name: str
    tactics: tuple[str, ...]
    in_scope: bool
    weight: float
    groups: int
    visibility: int
    detection: int
    prevention: int
    validated: str = ""
    gap: str = ""
    priority: float = 0.0
    visibility_explanation: str = ""
    detection_explanation: str = ""
    prevention_explanation: str = ""


@dataclass(frozen=True, slots=True)
class RuleRow:
    rule_id: str
    title: str
    format: str
    path: str
    status: str
    health: str
    techniques: tuple[str, ...] = ()
    missing: str = ""


@dataclass(frozen=True, slots=True)
class DeviceRow:
    device: str
    type: str
    system_groups: tuple[str, ...] = ()
    siem: bool = False  # declared as sending to a SIEM
    blocking: bool = False
    quality: float = 0.0
    # the SIEM ids its logs really reach (a silent or never-seen feed does not); None: not recorded (a store of
    # schema 1, or a scan folder whose devices table has no `reaches` column)
    reaches: tuple[str, ...] | None = None

    @property
    def sending(self) -> bool:
        """Its logs reach a SIEM: what ``reaches`` says, else (older records) what was declared."""
        return self.siem if self.reaches is None else bool(self.reaches)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything history keeps of one quarter's scan."""

    quarter: str
    summary: Summary
    techniques: tuple[TechniqueRow, ...]
    rules: tuple[RuleRow, ...] = ()
    devices: tuple[DeviceRow, ...] = ()
    extra: Mapping[str, tuple[Mapping[str, str], ...]] = field(default_factory=dict)  # gaps, recommendations
    recorded_at: str = ""
    source: str = ""  # the scan folder it was recorded from

    @property
    def attack_version(self) -> str | None:
        return self.summary.attack.version


TABLES: dict[str, type[Any]] = {"techniques": TechniqueRow, "rules": RuleRow, "devices": DeviceRow}
EXTRA_TABLES = ("gaps", "recommendations")
R = TypeVar("R")


# ----- values --------------------------------------------------------------------------------------
def convert(kind: Any, value: Any) -> Any:
    """A CSV / SQLite cell as the field's Python type (``kind`` is the dataclass annotation string)."""
    text = "" if value is None else str(value).strip()
    if kind == "bool":
        return text.casefold() not in _FALSE
    if kind == "int":
        return int(float(text)) if text else 0
    if kind == "float":
        return float(text) if text else 0.0
    if kind == "tuple[str, ...] | None" and value is None:
        return None
    if kind in ("tuple[str, ...]", "tuple[str, ...] | None"):
        return tuple(p.strip() for p in text.split(LIST_SEPARATOR) if p.strip())
    return "" if value is None else str(value)


def to_cell(value: Any) -> Any:
    """A field value as SQLite stores it (tuples ``;``-joined, bools 0/1)."""
    if isinstance(value, tuple):
        return LIST_SEPARATOR.join(value)
    if isinstance(value, bool):
        return int(value)
    return value


def row_from(cls: type[R], record: Mapping[str, Any]) -> R:
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    kwargs = {f.name: convert(f.type, record[f.name]) for f in fields if f.name in record}
    return cls(**kwargs)


def required_columns(cls: type[Any]) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]


# ----- reading a scan folder -----------------------------------------------------------------------
def read_summary(path: Path) -> Summary:
    if not path.is_file():
        raise DetcovError("no summary.json here", location=Location.of(path),
                          hint="pass the --out folder of a `detcov scan` run")
    try:
        return Summary.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        issues = [Issue(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}", Location.of(path),
                        "rerun `detcov scan` with this detcov version") for e in exc.errors()]
        raise DetcovError(issues=issues) from exc


def read_csv(path: Path) -> list[dict[str, str]]:
    """A table detcov wrote (cells neutralised against formula injection are restored)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return [{k: restore(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DetcovError(f"cannot read the table: {exc}", location=Location.of(path)) from exc


def read_table(path: Path, cls: type[R], *, required: bool) -> tuple[R, ...]:
    if not path.is_file():
        if required:
            raise DetcovError("table missing", location=Location.of(path),
                              hint="pass the --out folder of a complete `detcov scan` run")
        return ()
    records = read_csv(path)
    header = set(records[0]) if records else set()
    missing = [c for c in required_columns(cls) if c not in header]
    if records and missing:
        raise DetcovError(f"columns missing: {', '.join(missing)}", location=Location.of(path, 1),
                          hint="rerun `detcov scan` to write the current table layout")
    out = []
    for line, record in enumerate(records, start=2):
        try:
            out.append(row_from(cls, record))
        except ValueError as exc:
            raise DetcovError(f"bad value: {exc}", location=Location.of(path, line)) from exc
    return tuple(out)


def check_snapshot(snap: Snapshot) -> list[Issue]:
    """The tables must be as long as the summary says (a truncated table from a full disk is refused)."""
    scope = snap.summary.scope
    expected = {"rules": (len(snap.rules), scope.rules), "devices": (len(snap.devices), scope.devices)}
    if "gaps" in snap.extra:
        expected["gaps"] = (len(snap.extra["gaps"]), sum(snap.summary.gaps.values()))
    where = Location.of(snap.source or snap.quarter)
    issues = [Issue(f"the {name} table has {got} rows but summary.json counts {want}", where,
                    "the scan folder is incomplete (a full disk or an interrupted run?): run `detcov scan` again")
              for name, (got, want) in expected.items() if got != want]
    if len(snap.techniques) < scope.techniques_in_scope:
        issues.append(Issue(f"the techniques table has {len(snap.techniques)} rows, fewer than the "
                            f"{scope.techniques_in_scope} techniques in scope", where,
                            "the scan folder is incomplete: run `detcov scan` again"))
    return issues


def read_scan(scan_dir: Path, quarter: str) -> Snapshot:
    """The snapshot of one scan folder (``summary.json`` + ``tables/*.csv``)."""
    scan_dir = Path(scan_dir)
    if not scan_dir.is_dir():
        raise DetcovError("no such scan folder", location=Location.of(scan_dir),
                          hint="run `detcov scan detcov.yaml --out DIR` first and pass DIR")
    summary = read_summary(scan_dir / "summary.json")
    tables = scan_dir / "tables"
    rows = {name: read_table(tables / f"{name}.csv", cls, required=name == "techniques")
            for name, cls in TABLES.items()}
    extra = {name: tuple(read_csv(tables / f"{name}.csv")) for name in EXTRA_TABLES
             if (tables / f"{name}.csv").is_file()}
    return Snapshot(quarter, summary, rows["techniques"], rows["rules"], rows["devices"], extra,
                    source=str(scan_dir.resolve()))

