"""Attack-simulation results (Atomic Red Team runs, purple-team trackers) → validated vs claimed coverage.

CSV columns (header names case-insensitive): ``technique, test, date, detected, blocked`` (yes/no, true/false, 1/0;
empty = not checked). The newest result of each (technique, test) counts. A contradiction is a claim the test
disproves: a detection score ≥ 1 but the newest test was not detected, or a blocking score ≥ 1 but it was not blocked.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from detcov.attack import AttackKB
from detcov.errors import DetcovError, Issue, IssueCollector, Location

_YES = {"yes", "y", "true", "1", "detected", "blocked", "pass"}
_NO = {"no", "n", "false", "0", "missed", "fail", "not detected", "not blocked"}
REQUIRED = ("technique", "test", "date", "detected", "blocked")


@dataclass(frozen=True, slots=True)
class TestResult:
    technique: str
    test: str
    date: str
    detected: bool | None
    blocked: bool | None
    location: str


@dataclass(frozen=True, slots=True)
class ValidationOutcome:
    technique: str
    results: tuple[TestResult, ...]  # newest per test
    detected: bool
    blocked: bool
    contradictions: tuple[str, ...]

    @property
    def status(self) -> str:
        return "blocked" if self.blocked else "detected" if self.detected else "missed"


def _flag(value: str, where: Location, column: str, issues: IssueCollector) -> bool | None:
    v = value.strip().lower()
    if not v:
        return None
    if v in _YES:
        return True
    if v in _NO:
        return False
    issues.error(f"{column} is {value!r}", where, "use yes/no (or true/false, 1/0), or leave it empty")
    return None


def load_validation(path: str | Path, kb: AttackKB) -> tuple[list[TestResult], list[Issue]]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DetcovError(f"cannot read validation results ({exc.strerror})", location=Location(str(p)),
                          hint="check the 'validation:' path in the scan config") from exc
    reader = csv.DictReader(text.splitlines())
    header = {h.strip().lower(): h for h in reader.fieldnames or []}
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DetcovError(f"validation CSV lacks column(s) {', '.join(missing)}", location=Location(str(p), 1, 1),
                          hint=f"the header must name: {', '.join(REQUIRED)}")
    issues = IssueCollector()
    out: list[TestResult] = []
    for n, row in enumerate(reader, start=2):
        where = Location(str(p), n)
        res = kb.resolve(row[header["technique"]] or "")
        if res.current is None:
            issues.warning(f"technique {res.raw!r}: {res.note or 'not usable'}", where, "fix the technique id")
            continue
        out.append(TestResult(res.current, (row[header["test"]] or "").strip(), (row[header["date"]] or "").strip(),
                              _flag(row[header["detected"]] or "", where, "detected", issues),
                              _flag(row[header["blocked"]] or "", where, "blocked", issues), str(where)))
    return out, list(issues)


def assess_validation(results: list[TestResult], detection: Mapping[str, int],
                      prevention: Mapping[str, int]) -> dict[str, ValidationOutcome]:
    newest: dict[tuple[str, str], TestResult] = {}
    for r in results:
        key = (r.technique, r.test)
        if key not in newest or r.date >= newest[key].date:
            newest[key] = r
    by_tech: dict[str, list[TestResult]] = defaultdict(list)
    for r in newest.values():
        by_tech[r.technique].append(r)
    out: dict[str, ValidationOutcome] = {}
    for tid, rs in by_tech.items():
        contradictions = [f"detection score {detection[tid]} claimed but test {r.test!r} ({r.date}) was not detected"
                          for r in rs if r.detected is False and detection.get(tid, -1) >= 1]
        contradictions += [f"blocking claimed but test {r.test!r} ({r.date}) was not blocked"
                           for r in rs if r.blocked is False and prevention.get(tid, 0) >= 1]
        out[tid] = ValidationOutcome(tid, tuple(rs), any(r.detected for r in rs), any(r.blocked for r in rs),
                                     tuple(contradictions))
    return out
