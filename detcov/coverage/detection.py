"""Detection scores (DeTT&CT's −1..5 scale) from healthy rules, and manual scores that override them.

Automatic score of a technique, from the rules tagged with it (stated rule, shown in every explanation):

* each healthy rule earns 1 (experimental) or 2 (enabled/production), +1 when its severity is high or critical;
  a rule whose log source detcov cannot verify earns at most 1;
* the technique takes its best rule's points, +1 when its healthy rules watch 2 different log sources and +2
  when they watch 3 or more (depth beats count), capped at 4 — 5 ("excellent") is only given by a person;
* no healthy rule: −1 (none). Unhealthy rules are listed so "detected only by broken rules" can be told apart.

Manual scores (DeTT&CT technique-administration YAML; newest ``score_logbook`` entry wins) replace the automatic
detection and visibility scores of their techniques.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detcov.attack import AttackKB
from detcov.errors import DetcovError, Issue, Location, Severity
from detcov.rules import HealthOutcome, RuleHealth, RuleStatus
from detcov.userfiles import load_yaml, position

AUTO_CAP = 4
_HIGH = frozenset({"high", "critical"})
_COUNTING = frozenset({HealthOutcome.HEALTHY, HealthOutcome.UNVERIFIED})


@dataclass(frozen=True, slots=True)
class ManualScore:
    technique: str
    detection: int | None
    visibility: int | None
    date: str
    comment: str
    location: str


@dataclass(frozen=True, slots=True)
class DetectionScore:
    technique: str
    score: int  # -1..5
    rules: tuple[str, ...]  # healthy (and unverified) rules: "title [format]"
    broken: tuple[str, ...]  # rules tagged with it that do not count: "title: outcome (detail)"
    log_sources: tuple[str, ...]
    manual: ManualScore | None
    explanation: str


def rule_points(h: RuleHealth) -> int:
    if h.outcome is HealthOutcome.UNVERIFIED:
        return 1
    base = 2 if h.rule.status is RuleStatus.ENABLED else 1
    return base + (1 if (h.rule.severity or "").lower() in _HIGH else 0)


def _label(h: RuleHealth) -> str:
    return f"{h.rule.title or h.rule.id} [{h.rule.format.value}]"


def auto_score(healths: list[RuleHealth]) -> tuple[int, tuple[str, ...]]:
    counting = [h for h in healths if h.outcome in _COUNTING]
    if not counting:
        return -1, ()
    sources = tuple(dict.fromkeys(s for h in counting for s in (h.rule.log_source_labels or ("(unknown)",))))
    bonus = 2 if len(sources) >= 3 else 1 if len(sources) == 2 else 0
    return min(AUTO_CAP, max(map(rule_points, counting)) + bonus), sources


def score_detection(kb: AttackKB, healths: Iterable[RuleHealth],
                    manual: Mapping[str, ManualScore] | None = None) -> dict[str, DetectionScore]:
    """One score per active technique that has a rule or a manual score."""
    by_technique: dict[str, list[RuleHealth]] = defaultdict(list)
    for h in healths:
        for tid in h.rule.technique_ids:
            by_technique[tid].append(h)
    manual = manual or {}
    out: dict[str, DetectionScore] = {}
    for tid in sorted(set(by_technique) | set(manual)):
        hs = by_technique.get(tid, [])
        score, sources = auto_score(hs)
        rules = tuple(_label(h) for h in hs if h.outcome in _COUNTING)
        broken = tuple(f"{_label(h)}: {h.outcome.value}" + (f" ({h.detail})" if h.detail else "")
                       for h in hs if h.outcome not in _COUNTING)
        text = _explain(score, rules, broken, sources)
        m = manual.get(tid)
        if m is not None and m.detection is not None:
            text = f"manual score {m.detection} ({m.date}, {m.location}) replaces automatic {score}. {text}"
            score = m.detection
        out[tid] = DetectionScore(tid, score, rules, broken, sources, m, text)
    return out


def _explain(score: int, rules: tuple[str, ...], broken: tuple[str, ...], sources: tuple[str, ...]) -> str:
    parts = [f"score {score}"]
    if rules:
        parts.append(f"{len(rules)} counting rule(s): " + "; ".join(rules[:5]) + (" …" if len(rules) > 5 else ""))
        parts.append("log sources: " + ", ".join(sources))
    else:
        parts.append("no healthy rule")
    if broken:
        parts.append(f"{len(broken)} rule(s) not counted: " + "; ".join(broken[:3]) + (" …" if len(broken) > 3 else ""))
    return " | ".join(parts)


# ----- manual scores: DeTT&CT technique-administration YAML --------------------------------------------------
def _latest(obj: Any) -> tuple[int | None, str, str]:
    entries = [e for e in (obj.get("score_logbook") or []) if isinstance(e, Mapping)] if isinstance(obj, Mapping) \
        else []
    if not entries:
        return None, "", ""

    def key(e: Mapping[str, Any]) -> str:
        d = e.get("date")
        return d.isoformat() if isinstance(d, dt.date) else str(d or "")

    best = max(entries, key=key)
    score = best.get("score")
    return (score if isinstance(score, int) and not isinstance(score, bool) else None), key(best), \
        str(best.get("comment") or "")


def _best(objs: Any) -> tuple[int | None, str, str]:
    """Over the objects of one kind (one per applicable_to), the highest current score."""
    items = objs if isinstance(objs, list) else [objs] if objs else []
    scored = [r for r in map(_latest, items) if r[0] is not None]
    return max(scored, key=lambda r: r[0] or -2) if scored else (None, "", "")


def load_manual_scores(path: str | Path, kb: AttackKB) -> tuple[dict[str, ManualScore], list[Issue]]:
    """Manual detection/visibility scores from a DeTT&CT technique-administration file (accepted as is)."""
    doc = load_yaml(path)
    if not isinstance(doc, Mapping) or doc.get("file_type") != "technique-administration":
        raise DetcovError("is not a DeTT&CT technique-administration file", location=Location(str(path), 1, 1),
                          hint="set 'file_type: technique-administration' (DeTT&CT format)")
    out: dict[str, ManualScore] = {}
    issues: list[Issue] = []
    for i, tech in enumerate(doc.get("techniques") or []):
        if not isinstance(tech, Mapping):
            continue
        line, col = position(doc, ["techniques", i, "technique_id"])
        res = kb.resolve(str(tech.get("technique_id", "")))
        where = Location(str(path), line, col)
        if res.current is None:
            issues.append(Issue(f"technique {res.raw}: {res.note}", where, "fix the id", Severity.WARNING))
            continue
        if res.id != res.current:
            issues.append(Issue(res.note, where, "update the id", Severity.WARNING))
        det, d_date, d_comment = _best(tech.get("detection"))
        vis, v_date, _ = _best(tech.get("visibility"))
        out[res.current] = ManualScore(res.current, det, vis, max(d_date, v_date), d_comment, str(where))
    return out, issues
