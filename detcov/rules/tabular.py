"""CSV rule inventories (a spreadsheet saved as CSV): one row per rule.

Columns are found by header name (case-insensitive); the defaults below cover common spellings and a caller
can
name its own (``columns={"techniques": "MITRE"}``). Technique cells may hold several ids (``T1059.001,
T1003``);
log-source cells several alternatives separated by ``;`` or ``|`` or ``,`` (device type ids, data component
names,
ESCU / Sentinel / Elastic names).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from detcov.attack.ids import find_technique_ids
from detcov.errors import Issue, Location, Severity
from detcov.rules.common import Parsed, ReadContext, SkipFile, severity
from detcov.rules.model import LogSourceReq, Rule, RuleFormat, RuleStatus
from detcov.usertext import csv_rows

DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "rule id", "rule_id", "ruleid", "uc", "use case id"),
    "name": ("name", "title", "rule name", "rule", "use case", "display name"),
    "techniques": (
        "technique",
        "techniques",
        "technique id",
        "technique ids",
        "technique_id",
        "mitre",
        "mitre technique", "mitre id", "mitre ids", "attack id",
        "attack",
        "att&ck",
        "mitre_attack_id",
    ),
    "status": ("status", "enabled", "state", "deployment"),
    "log_source": ("log source", "log sources", "log_source", "logsource", "data source", "data sources"),
    "tactics": ("tactic", "tactics"),
    "severity": ("severity", "level", "priority"),
    "platforms": ("platform", "platforms", "os"),
    "query": ("query", "search", "logic"),
}
STATUS = {
    "enabled": RuleStatus.ENABLED,
    "active": RuleStatus.ENABLED,
    "yes": RuleStatus.ENABLED,
    "true": RuleStatus.ENABLED,
    "on": RuleStatus.ENABLED,
    "production": RuleStatus.ENABLED,
    "prod": RuleStatus.ENABLED,
    "live": RuleStatus.ENABLED,
    "1": RuleStatus.ENABLED,
    "disabled": RuleStatus.DISABLED,
    "inactive": RuleStatus.DISABLED,
    "no": RuleStatus.DISABLED,
    "false": RuleStatus.DISABLED,
    "off": RuleStatus.DISABLED,
    "0": RuleStatus.DISABLED,
    "experimental": RuleStatus.EXPERIMENTAL,
    "test": RuleStatus.EXPERIMENTAL,
    "testing": RuleStatus.EXPERIMENTAL,
    "pilot": RuleStatus.EXPERIMENTAL,
    "deprecated": RuleStatus.DEPRECATED,
    "retired": RuleStatus.DEPRECATED,
}
_SPLIT = re.compile(r"\s*[;|,\n]\s*")


def _columns(header: list[str], overrides: Mapping[str, str] | None) -> dict[str, int]:
    folded = [h.strip().casefold() for h in header]
    out: dict[str, int] = {}
    for field_name, names in DEFAULT_COLUMNS.items():
        wanted = (overrides[field_name],) if overrides and field_name in overrides else names
        for name in wanted:
            if name.casefold() in folded:
                out[field_name] = folded.index(name.casefold())
                break
    return out


def read_csv(path: str, source: str, ctx: ReadContext, columns: Mapping[str, str] | None = None) -> Parsed:
    first = source.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else ";" if first.count(";") > first.count(",") else ","
    problems: list[Issue] = []
    numbered = list(csv_rows(source, path, problems, delimiter))
    rows = [row for _, row in numbered]
    if not rows:
        raise SkipFile("not a rule inventory: empty CSV")
    cols = _columns(rows[0], columns)
    if "techniques" not in cols or not ({"id", "name"} & cols.keys()):
        raise SkipFile(
            "not a rule inventory: the CSV header needs a technique column and an id or name column "
            f"(found: {', '.join(rows[0][:8])})"
        )
    out = Parsed()
    for problem in problems:
        out.skip_item(f"{problem.message}; row skipped", problem.location or Location(path), Severity.WARNING)
    for number, row in numbered[1:]:
        if not any(cell.strip() for cell in row):
            continue
        out.rules.append(_row_rule(path, number, row, cols, ctx))
    return out


def _row_rule(path: str, number: int, row: list[str], cols: dict[str, int], ctx: ReadContext) -> Rule:
    def cell(name: str) -> str:
        index = cols.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    raw_techniques = cell("techniques")
    ids = find_technique_ids(raw_techniques)
    notes = [f"technique cell {raw_techniques!r} holds no technique id"] if raw_techniques and not ids else []
    sources = [s for s in _SPLIT.split(cell("log_source")) if s]
    reqs = tuple(LogSourceReq("column", s, (ctx.maps.any_name(s),)) for s in dict.fromkeys(sources))
    raw_status = cell("status") or None
    platforms = [p for p in _SPLIT.split(cell("platforms")) if p] or [
        p for r in reqs for n in r.needs for p in n.platforms
    ]
    rule_id = cell("id") or f"{Path(path).stem}:{number}"
    return Rule(
        format=RuleFormat.CSV,
        location=Location(path, number),
        id=rule_id,
        title=cell("name") or rule_id,
        status=STATUS.get((raw_status or "enabled").lower(), RuleStatus.ENABLED),
        raw_status=raw_status,
        severity=severity(cell("severity")),
        techniques=ctx.techniques(ids),
        tactics=ctx.tactics(s for s in _SPLIT.split(cell("tactics")) if s),
        log_sources=reqs,
        platforms=tuple(dict.fromkeys(platforms)),
        query=cell("query"),
        notes=tuple(notes),
    )
