"""``read_results``: one entry point for every supported simulation-result format, with format auto-detection."""

from __future__ import annotations

from pathlib import Path

from detcov.attack import AttackKB
from detcov.errors import DetcovError, Issue, IssueCollector, Location, Severity
from detcov.simulations import atomic, attire, caldera, handcsv, vectr
from detcov.simulations.jsondoc import load_json
from detcov.simulations.model import TestResult, report_without_outcome
from detcov.simulations.table import decode, fold, header_of, read_raw

FORMATS: tuple[str, ...] = ("csv", "atomic-red-team", "attire", "caldera", "vectr")
_CSV = {"csv": handcsv.read, "atomic-red-team": atomic.read, "vectr": vectr.read}
_JSON = {"attire": attire.read, "caldera": caldera.read}


def read_results(path: Path, kb: AttackKB, fmt: str = "auto") -> tuple[list[TestResult], list[Issue]]:
    """The results of one file and its warnings; bad input raises one DetcovError with every error of the file."""
    if fmt != "auto" and fmt not in FORMATS:
        raise DetcovError(f"unknown simulation result format {fmt!r}", location=Location(str(path)),
                          hint=f"use one of: auto, {', '.join(FORMATS)}")
    issues = IssueCollector()
    if fmt in _JSON or (fmt == "auto" and _looks_json(path)):
        doc = load_json(path, read_raw(path))
        chosen = fmt if fmt != "auto" else _detect_json(path, doc)
        results = _JSON[chosen](path, doc, kb, issues)
    else:
        text = decode(path)
        chosen = fmt if fmt != "auto" else _detect_csv(path, text)
        results = _CSV[chosen](path, text, kb, issues)
    issues.raise_if_errors()
    report_without_outcome(results, Location(str(path)), issues)
    return results, [i for i in issues if i.severity is not Severity.ERROR]


def _looks_json(path: Path) -> bool:
    if path.suffix.lower() == ".json":
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return head[:1] in (b"{", b"[")


def _detect_json(path: Path, doc: object) -> str:
    if attire.is_attire(doc):
        return "attire"
    if caldera.is_report(doc) or caldera.is_event_log(doc):
        return "caldera"
    raise DetcovError("JSON file is not a known simulation result format", location=Location(str(path)),
                      hint="expected an ATTiRe log ('attire-version') or a Caldera operation report / event logs; "
                           "or name the format (format: attire | caldera)")


def _detect_csv(path: Path, text: str) -> str:
    header = {fold(h) for h in header_of(text)}
    if header >= atomic.SIGNATURE:
        return "atomic-red-team"
    if header >= {"technique", "test"}:  # detcov's own CSV (missing columns are then reported by name)
        return "csv"
    if header >= vectr.SIGNATURE:
        return "vectr"
    raise DetcovError("CSV header matches no known simulation result format", location=Location(str(path), 1, 1),
                      hint="detcov's CSV needs technique, test, date, detected, blocked; Atomic Red Team logs "
                           "'Execution Time (UTC)', 'Technique', 'Test Number', 'Test Name'; VECTR exports "
                           "'MitreID', 'Variant', 'Outcome' (or name the format)")
