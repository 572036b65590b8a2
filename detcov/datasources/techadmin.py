"""DeTT&CT technique-administration files (``file_type: technique-administration``): check what a person wrote.

The rules are DeTT&CT's own health check (rabobank-cdc/DeTTECT ``health.py``, learned from its source): detection
scores are whole numbers in −1..5 and visibility scores in 0..4, every ``score_logbook`` entry has a real date
(``YYYY-MM-DD``) once it scores above "none", ``score_logbook`` / ``techniques`` / ``applicable_to`` / ``location``
are lists. detcov reports each problem at its ``file:line:col`` with the fix, instead of silently ignoring the
entry (``score: high``) or letting an impossible score (99) into the KPIs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from detcov.errors import Issue, Location, Severity
from detcov.userfiles import position

TECHNIQUE_FILE_TYPE = "technique-administration"
SCORE_RANGE = {"detection": (-1, 5), "visibility": (0, 4)}
_LIST_KEYS = {"detection": ("applicable_to", "location"), "visibility": ("applicable_to",)}


def parse_date(value: Any) -> dt.date | None:
    """A logbook date as YAML gives it (a date, or an ISO string); None when it is not one."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def shown(value: Any) -> str:
    """A YAML value as the user wrote it (``true``, not Python's ``True``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "empty"
    return repr(value) if isinstance(value, str) else str(value)


class _Checker:
    def __init__(self, doc: Any, path: str | Path) -> None:
        self.doc, self.path = doc, str(path)
        self.issues: list[Issue] = []

    def error(self, loc: Sequence[str | int], message: str, hint: str) -> None:
        line, col = position(self.doc, loc)
        self.issues.append(Issue(message, Location(self.path, line, col), hint))

    def techniques(self) -> None:
        techniques = self.doc.get("techniques")
        if techniques is None:
            return
        if not isinstance(techniques, list):
            self.error(["techniques"], f"techniques is {shown(techniques)}, not a list",
                       "write one '- technique_id: T1059' item per technique under 'techniques:'")
            return
        for i, tech in enumerate(techniques):
            if not isinstance(tech, Mapping):
                self.error(["techniques", i], f"technique item {i + 1} is {shown(tech)}, not a mapping",
                           "give it 'technique_id:', 'detection:' and 'visibility:' keys")
                continue
            tid = tech.get("technique_id")
            if not isinstance(tid, str) or not tid.strip():
                self.error(["techniques", i], f"technique item {i + 1} has no technique_id",
                           "add 'technique_id: T1234' (or T1234.001)")
            for kind in SCORE_RANGE:
                self.objects(["techniques", i, kind], tech.get(kind), kind)

    def objects(self, loc: list[str | int], value: Any, kind: str) -> None:
        if value is None:
            return
        items = value if isinstance(value, list) else [value]
        for j, obj in enumerate(items):
            at = [*loc, j] if isinstance(value, list) else loc
            if not isinstance(obj, Mapping):
                self.error(at, f"{kind} object is {shown(obj)}, not a mapping",
                           "give it 'applicable_to:', 'comment:' and 'score_logbook:' keys")
                continue
            for key in _LIST_KEYS[kind]:
                if key in obj and obj[key] is not None and not isinstance(obj[key], list):
                    self.error([*at, key], f"{key} is {shown(obj[key])}, not a list",
                               f"write it as a list: {key}: [...]")
            self.logbook([*at, "score_logbook"], obj.get("score_logbook"), kind)

    def logbook(self, loc: list[str | int], value: Any, kind: str) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            self.error(loc, f"score_logbook is {shown(value)}, not a list",
                       "write entries as '- {date: 2025-11-12, score: 3, comment: ...}'")
            return
        low, high = SCORE_RANGE[kind]
        for k, entry in enumerate(value):
            at = [*loc, k]
            if not isinstance(entry, Mapping):
                self.error(at, f"score_logbook entry is {shown(entry)}, not a mapping", "use {date, score, comment}")
                continue
            score = entry.get("score")
            if not isinstance(score, int) or isinstance(score, bool):
                self.error([*at, "score"], f"{kind} score is {shown(score)}, not a whole number",
                           f"use a number from {low} to {high} (DeTT&CT's {kind} scale)")
            elif not low <= score <= high:
                self.error([*at, "score"], f"{kind} score {score} is outside {low}..{high}",
                           f"use a number from {low} to {high} (DeTT&CT's {kind} scale)")
            date = entry.get("date")
            if date is None:
                if isinstance(score, int) and score > low:
                    self.error(at, f"{kind} score {score} has no date", "add 'date: YYYY-MM-DD' (newest entry wins)")
            elif parse_date(date) is None:
                self.error([*at, "date"], f"date is {shown(date)}, not a date",
                           "write it as YYYY-MM-DD, e.g. 2025-11-12")


def check_technique_admin(doc: Any, path: str | Path) -> list[Issue]:
    """Every problem of a technique-administration document (a round-trip YAML mapping), located."""
    if not isinstance(doc, Mapping):
        return [Issue("the file must be a YAML mapping at the top level", Location(str(path), 1, 1),
                      f"start it with 'version: 1.2' and 'file_type: {TECHNIQUE_FILE_TYPE}'")]
    checker = _Checker(doc, path)
    checker.techniques()
    return checker.issues


# ----- writing: detcov's visibility as DeTT&CT technique administration (like DeTT&CT's `ds -y` / `ds -u`) ------
AUTO_COMMENT = "computed by detcov from the inventory"


def _day(today: dt.date) -> dt.date:
    """A fresh date object: YAML writers anchor (&id001) an object used twice; people and DeTT&CT read plain."""
    return dt.date.fromordinal(today.toordinal())


def _auto_entry(score: int, today: dt.date) -> dict[str, Any]:
    return {"date": _day(today), "score": score, "comment": AUTO_COMMENT, "auto_generated": True}


def _technique_entry(tid: str, name: str, scores: Mapping[str, int], today: dt.date) -> dict[str, Any]:
    """A new technique: a placeholder detection (-1, as DeTT&CT writes it) and one visibility object per group."""
    return {
        "technique_id": tid, "technique_name": name,
        "detection": [{"applicable_to": ["all"], "location": [""], "comment": "",
                       "score_logbook": [{"date": _day(today), "score": -1, "comment": ""}]}],
        "visibility": [{"applicable_to": [group], "comment": "", "score_logbook": [_auto_entry(score, today)]}
                       for group, score in sorted(scores.items())],
    }


def plain_yaml(doc: Mapping[str, Any]) -> str:
    """A new document as block YAML without anchors, in key order (PyYAML's C emitter: a 550-technique file in
    well under a second, where a round-trip writer takes tens of seconds; there are no comments to keep)."""
    return yaml.dump(dict(doc), Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                     width=4096)


class _PlainDumper(yaml.CSafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def technique_admin(name: str, platforms: Sequence[str], techniques: Mapping[str, tuple[str, Mapping[str, int]]],
                    today: dt.date) -> dict[str, Any]:
    """A new technique-administration document (v1.2) from per-technique, per-group visibility scores."""
    return {"version": 1.2, "file_type": TECHNIQUE_FILE_TYPE, "name": name, "domain": "enterprise-attack",
            "platform": list(platforms) or ["all"],
            "techniques": [_technique_entry(tid, tname, scores, today)
                           for tid, (tname, scores) in sorted(techniques.items())]}


def _latest(logbook: Any) -> Mapping[str, Any] | None:
    entries = [e for e in logbook if isinstance(e, Mapping)] if isinstance(logbook, list) else []
    return max(entries, key=lambda e: str(parse_date(e.get("date")) or ""), default=None)


def _update_object(obj: Any, score: int, today: dt.date, where: str) -> Issue | None:
    """Append detcov's new score unless it is unchanged; a person's score (not auto_generated) is kept."""
    logbook = obj.setdefault("score_logbook", [])
    latest = _latest(logbook)
    if latest is not None and latest.get("score") == score:
        return None
    if latest is not None and not latest.get("auto_generated", False):
        return Issue(f"{where}: kept the manual visibility score {latest.get('score')} (detcov computes {score})",
                     None, "edit the score_logbook by hand to accept detcov's score", Severity.INFO)
    logbook.append(_auto_entry(score, today))
    return None


def update_technique_admin(doc: Any, techniques: Mapping[str, tuple[str, Mapping[str, int]]],
                           today: dt.date) -> list[Issue]:
    """Merge detcov's visibility into an existing document in place (its score_logbook history is kept)."""
    notes: list[Issue] = []
    existing: dict[str, Any] = {str(t.get("technique_id")): t for t in doc.setdefault("techniques", [])
                                if isinstance(t, Mapping)}
    for tid, (tname, scores) in sorted(techniques.items()):
        tech = existing.get(tid)
        if tech is None:
            doc["techniques"].append(_technique_entry(tid, tname, scores, today))
            continue
        objects = tech.setdefault("visibility", [])
        if isinstance(objects, Mapping):
            objects = tech["visibility"] = [objects]
        notes += _update_visibility(objects, tid, scores, today)
    return notes


def _covers(obj: Any, group: str) -> bool:
    return isinstance(obj, Mapping) and isinstance(obj.get("applicable_to"), list) and group in obj["applicable_to"]


def _update_visibility(objects: list[Any], tid: str, scores: Mapping[str, int], today: dt.date) -> list[Issue]:
    """One technique's visibility objects: per group, or one ``all`` object (given the best group's score)."""
    notes = []
    everywhere = next((o for o in objects if _covers(o, "all")), None)
    if everywhere is not None and not any(_covers(o, g) for o in objects for g in scores):
        note = _update_object(everywhere, max(scores.values()), today, f"{tid} all")
        return [note] if note else []
    for group, score in sorted(scores.items()):
        obj = next((o for o in objects if _covers(o, group)), None)
        if obj is None:
            objects.append({"applicable_to": [group], "comment": "", "score_logbook": [_auto_entry(score, today)]})
        elif (note := _update_object(obj, score, today, f"{tid} {group}")) is not None:
            notes.append(note)
    return notes
