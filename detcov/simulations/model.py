"""One attack-simulation result, whatever tool wrote it, and the small parsers every reader shares.

A :class:`TestResult` says which technique a test exercised (the id current in the loaded ATT&CK), when, where (host
or system group) and what the defence did: ``detected`` / ``blocked`` are ``None`` when the file records no outcome.
Execution logs (Atomic Red Team, Caldera) only say that a command ran; such a result is kept, carries a note, and
never proves anything until the purple team records the outcome (extra columns/fields ``detected``, ``blocked``,
``alert_id``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from detcov.attack import AttackKB
from detcov.errors import IssueCollector, Location

TOOLS = ("csv", "atomic-red-team", "attire", "caldera", "vectr")
NO_OUTCOME = "no detection/blocking outcome recorded (execution log only): proves nothing until one is added"
_YES = frozenset({"yes", "y", "true", "1", "detected", "blocked", "pass", "passed", "alerted"})
_NO = frozenset({"no", "n", "false", "0", "missed", "fail", "failed", "not detected", "not blocked", "none"})
_EMPTY = frozenset({"", "tbd", "n/a", "na", "-", "null", "unknown"})


@dataclass(frozen=True, slots=True)
class TestResult:
    __test__ = False  # not a pytest test class

    technique: str          # current id in the loaded ATT&CK (through kb.resolve)
    test: str               # test name/id as the tool writes it
    date: str               # ISO 8601 UTC date or datetime (sortable)
    detected: bool | None   # None: outcome not recorded
    blocked: bool | None
    location: str           # file:line (or file:$.json.path)
    host: str | None = None
    system_group: str | None = None
    alert_id: str | None = None
    tool: str = "csv"       # csv | atomic-red-team | attire | caldera | vectr
    note: str = ""

    @property
    def has_outcome(self) -> bool:
        return self.detected is not None or self.blocked is not None


def parse_flag(value: object, where: Location, field: str, issues: IssueCollector) -> bool | None:
    """yes/no, true/false, 1/0 (or JSON booleans); empty, TBD and N/A are "not recorded" (None)."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _EMPTY:
        return None
    if text in _YES:
        return True
    if text in _NO:
        return False
    issues.error(f"{field} is {value!r}", where, "use yes/no (or true/false, 1/0), or leave it empty")
    return None


def parse_time(value: object, where: Location, field: str, issues: IssueCollector) -> str | None:
    """An ISO 8601 date or datetime (``Z``/offset, or none = UTC), or epoch seconds/ms → sortable UTC text.

    Dates stay dates (``2025-11-12``); datetimes become ``2025-11-12T08:30:00Z``. Empty → None (caller decides).
    """
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    if text.isdigit() and len(text) >= 9:  # epoch seconds (10 digits) or milliseconds (13)
        seconds = int(text) / (1000 if len(text) > 11 else 1)
        return _utc(dt.datetime.fromtimestamp(seconds, tz=dt.UTC))
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text).isoformat()
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        issues.error(f"{field} {text!r} is not an ISO 8601 date or time", where,
                     "write it as 2025-11-12 or 2025-11-12T08:30:00Z")
        return None
    return _utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC))


def required_time(value: object, where: Location, field: str, hint: str, issues: IssueCollector) -> str | None:
    """:func:`parse_time`, with an error (and the fix ``hint``) when the value is missing."""
    if value is None or not str(value).strip():
        issues.error(f"{field} is empty", where, hint)
        return None
    return parse_time(value, where, field, issues)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def resolve_technique(kb: AttackKB, raw: object, where: Location, issues: IssueCollector) -> tuple[str | None, str]:
    """The current technique id and a note when it differs from what was written (revoked → replacement), or
    (None, "") with a warning: the result is reported, never silently dropped."""
    res = kb.resolve(str(raw or ""))
    if res.current is None:
        issues.warning(f"technique {res.raw!r}: {res.note or 'not usable'}; result skipped", where,
                       "fix the technique id (T1059 or T1059.001)")
        return None, ""
    return res.current, (f"{res.raw.strip()} → {res.current}: {res.note}" if res.id != res.current else "")


def text_or_none(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def join_notes(*parts: str | None) -> str:
    return "; ".join(p for p in parts if p)


def report_unknown(names: Iterable[str], where: Location, what: str, known: Iterable[str],
                   issues: IssueCollector) -> None:
    """One warning per file naming every column/field detcov does not read."""
    unknown = sorted(set(names))
    if unknown:
        issues.warning(f"{what} not read by detcov: {', '.join(unknown)}", where,
                       f"known {what}: {', '.join(known)} (rename a column or field that carries an outcome)")


def report_without_outcome(results: Iterable[TestResult], where: Location, issues: IssueCollector) -> None:
    bare = sum(1 for r in results if not r.has_outcome)
    if bare:
        issues.warning(f"{bare} result(s) record no detection/blocking outcome; they are kept but prove nothing",
                       where, "add the purple team's verdict (detected / blocked / alert id columns or fields)")
