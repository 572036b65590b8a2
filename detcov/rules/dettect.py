"""DeTT&CT technique-administration YAML, read as detections.

Each ``techniques[].detection`` object (one or a list) with a ``location`` or a current score of 0 or more
is one
rule: the current score is the newest-dated ``score_logbook`` entry (DeTT&CT's ``get_latest_score_obj``); -1
means
"no detection" and reads as disabled. Placeholder objects (score -1, no location) are counted, not listed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from detcov.errors import Issue, Location, Severity
from detcov.rules.common import Parsed, ReadContext, SkipFile, as_list, strings, text
from detcov.rules.model import Rule, RuleFormat, RuleStatus


def is_dettect(doc: Any) -> bool:
    return isinstance(doc, Mapping) and doc.get("file_type") == "technique-administration"


def latest_score(detection: Mapping[str, Any]) -> int | None:
    """The newest-dated logbook score (undated entries count as oldest)."""
    entries = [e for e in as_list(detection.get("score_logbook")) if isinstance(e, Mapping)]
    if not entries:
        return None

    def date_key(entry: Mapping[str, Any]) -> str:
        value = entry.get("date")
        return value.isoformat() if isinstance(value, dt.date) else text(value)

    score = max(entries, key=date_key).get("score")
    return score if isinstance(score, int) and not isinstance(score, bool) else None


def read_dettect(path: str, doc: Mapping[str, Any], ctx: ReadContext) -> Parsed:
    techniques = doc.get("techniques")
    if not isinstance(techniques, list):
        raise SkipFile("not a rule file: technique-administration file without a 'techniques' list")
    platforms = tuple(p for p in strings(doc.get("platform")) if p.lower() != "all")
    out = Parsed()
    placeholders = 0
    for item in techniques:
        if not isinstance(item, Mapping):
            continue
        tid = text(item.get("technique_id"))
        for index, det in enumerate(as_list(item.get("detection"))):
            if not isinstance(det, Mapping):
                continue
            score, locations = latest_score(det), strings(det.get("location"))
            if not locations and (score is None or score < 0):
                placeholders += 1
                continue
            applicable = tuple(strings(det.get("applicable_to")))
            out.rules.append(
                Rule(
                    format=RuleFormat.DETTECT,
                    location=Location(path),
                    id=f"{tid}#{index + 1}",
                    title="; ".join(locations) or f"DeTT&CT detection of {tid}",
                    status=RuleStatus.DISABLED if score is not None and score < 0 else RuleStatus.ENABLED,
                    raw_status=f"score {score}" if score is not None else None,
                    techniques=ctx.techniques([tid]),
                    platforms=platforms,
                    query=text(det.get("comment")),
                    score=score,
                    applicable_to=applicable,
                )
            )
    out.items_skipped += placeholders
    if placeholders:
        out.issues.append(
            Issue(
                f"{placeholders} detection objects are placeholders (score -1, no location)",
                Location(path),
                severity=Severity.INFO,
            )
        )
    return out
