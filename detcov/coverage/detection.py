"""Detection scores (DeTT&CT's −1..5 scale) per technique × system group, from the rules healthy *there*.

Automatic score of a technique in a system group, from the rules tagged with it that watch the group (stated rule,
shown in every explanation):

* each rule healthy in the group earns 2 (enabled/production) or 1 (experimental); severity adds nothing (a
  high-severity rule is not a deeper detection);
* a broad rule — tagged with more than :data:`BROAD_RULE` distinct techniques (a sub-technique and its parent count
  once) — earns at most 1 for each: it is weak evidence for any one of them;
* depth: +1 when the healthy rules are fed by 2 *independent* sources, +2 for 3 or more — independent means distinct
  devices delivering them in that group (Sysmon under two log-source labels is one source), each rule counted for
  at most one device;
* capped at 4 — 5 ("excellent") is only given by a person (a manual DeTT&CT score);
* rules whose log source detcov cannot verify (ML job, custom table, unstated product) never count: they are listed
  as unverified, and the technique is "broken" until they are verified;
* no counting rule: −1.

Manual scores (DeTT&CT technique-administration YAML; newest ``score_logbook`` entry wins, per ``applicable_to``)
replace the automatic detection and visibility scores in the groups they name (``all``: every group).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detcov.attack import AttackKB
from detcov.datasources.techadmin import check_technique_admin
from detcov.errors import DetcovError, Issue, Location, Severity
from detcov.rules import HealthOutcome, RuleHealth, RuleStatus
from detcov.rules.health import GroupHealth
from detcov.userfiles import load_yaml, position

AUTO_CAP = 4
BROAD_RULE = 3
_RULE_LEVEL = frozenset({HealthOutcome.DISABLED, HealthOutcome.UNMAPPED, HealthOutcome.UNKNOWN_TECHNIQUE})


@dataclass(frozen=True, slots=True)
class ManualScore:
    technique: str
    detection: int | None
    visibility: int | None
    date: str
    comment: str
    location: str
    detection_scopes: tuple[tuple[tuple[str, ...], int], ...] = ()  # (applicable_to, score) per DeTT&CT object
    visibility_scopes: tuple[tuple[tuple[str, ...], int], ...] = ()

    def detection_in(self, group: str) -> int | None:
        return _scoped(self.detection_scopes, group, self.detection)

    def visibility_in(self, group: str) -> int | None:
        return _scoped(self.visibility_scopes, group, self.visibility)


def _scoped(scopes: tuple[tuple[tuple[str, ...], int], ...], group: str, fallback: int | None) -> int | None:
    if not scopes:
        return fallback
    hits = [score for applicable, score in scopes if not applicable or "all" in applicable or group in applicable]
    return max(hits) if hits else None


@dataclass(frozen=True, slots=True)
class DetectionScore:
    technique: str
    score: int  # -1..5
    rules: tuple[str, ...]  # counting rules: "title [format]"
    broken: tuple[str, ...]  # rules tagged with it, watching the group, that do not count: "title: outcome (detail)"
    log_sources: tuple[str, ...]  # the independent sources (devices) feeding the counting rules
    manual: ManualScore | None
    explanation: str
    group: str | None = None
    unverified: tuple[str, ...] = ()


@functools.cache
def _distinct_techniques(ids: tuple[str, ...]) -> int:
    """How many techniques a rule is tagged with, a sub-technique and its parent counting once (remembered: a
    large corpus repeats a few thousand tag sets)."""
    unique = set(ids)
    return len({t for t in unique if not ("." not in t and any(o.startswith(t + ".") for o in unique))})


def rule_points(h: RuleHealth) -> int:
    base = 2 if h.rule.status is RuleStatus.ENABLED else 1
    return min(base, 1) if _distinct_techniques(h.rule.technique_ids) > BROAD_RULE else base


def independent_sources(feeds: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    """Greedy distinct representatives: each rule counts for at most one of its devices, each device once (in
    order of fewest devices first; done as soon as every device is used: 100,000 rules repeat a few feeds)."""
    ordered = sorted(feeds, key=len)
    left = set().union(*ordered)
    used: dict[str, None] = {}
    for devices in ordered:
        if not left:
            break
        free = next((d for d in devices if d not in used), None)
        if free is not None:
            used[free] = None
            left.discard(free)
    return tuple(used)


def auto_score(counting: list[tuple[RuleHealth, GroupHealth]]) -> tuple[int, tuple[str, ...]]:
    if not counting:
        return -1, ()
    sources = independent_sources(g.devices or (f"({h.rule.id})",) for h, g in counting)
    bonus = 2 if len(sources) >= 3 else 1 if len(sources) == 2 else 0
    points = 0
    for h, _ in counting:  # the best rule's points (2 at most: the first enabled, focused rule ends the search)
        points = max(points, rule_points(h))
        if points >= 2:
            break
    return min(AUTO_CAP, points + bonus), sources


def score_group(tid: str, group: str, healths: Iterable[RuleHealth], manual: ManualScore | None,
                derived: Iterable[RuleHealth] = ()) -> DetectionScore:
    """The detection score of one technique in one system group (``healths``: the rules tagged with it;
    ``derived``: rules credited through the sub-technique ↔ parent rule, at most 1 point each, never broken)."""
    counting: list[tuple[RuleHealth, GroupHealth]] = []
    broken: list[str] = []
    unverified: list[str] = []
    elsewhere: list[str] = []
    healthy, not_applicable = HealthOutcome.HEALTHY, HealthOutcome.NOT_APPLICABLE
    for h in healths:  # the hot loop of a scan: rules tagged with the technique × groups (so: no calls in it)
        if h.outcome in _RULE_LEVEL:
            if _watches(h, group):
                broken.append(f"{h.label}: {h.outcome.value}" + (f" ({h.detail})" if h.detail else ""))
            continue
        gh = h.by_group.get(group)  # h.in_group(group)
        if gh is None or gh.outcome is not_applicable:
            continue
        if gh.outcome is healthy:
            counting.append((h, gh))
        elif h.outcome is healthy:  # the rule works in other groups; here it has no data: not broken (3 are named)
            if len(elsewhere) < 3:
                elsewhere.append(f"{h.label}: healthy in {', '.join(h.healthy_groups)} only")
        elif gh.outcome is HealthOutcome.UNVERIFIED:
            unverified.append(f"{h.label}: unverified ({gh.detail})")
        else:
            broken.append(f"{h.label}: {gh.outcome.value} ({gh.detail})")
    score, sources = auto_score(counting)
    via = [(h, gh) for h in derived if (gh := h.in_group(group)) is not None and gh.healthy]
    if via and score < 1:
        score, sources = 1, independent_sources(g.devices for _, g in via)
    rules = tuple(h.label for h, _ in counting) + tuple(f"{h.label} (via {', '.join(h.rule.technique_ids)})"
                                                         for h, _ in via)
    text = _explain(group, score, rules, tuple(broken), tuple(unverified), sources)
    if elsewhere:
        text += " | no data here for: " + "; ".join(elsewhere)
    m = manual.detection_in(group) if manual else None
    if manual is not None and m is not None:
        text = f"manual score {m} ({manual.date}, {manual.location}) replaces automatic {score}. {text}"
        score = m
    return DetectionScore(tid, score, rules, tuple(broken + unverified), sources, manual, text, group,
                          tuple(unverified))


def _watches(h: RuleHealth, group: str) -> bool:
    groups = set(h.rule.applicable_to) - {"all"}
    return not groups or group in groups


def by_technique(healths: Iterable[RuleHealth]) -> dict[str, list[RuleHealth]]:
    out: dict[str, list[RuleHealth]] = defaultdict(list)
    for h in healths:
        for tid in h.rule.technique_ids:
            out[tid].append(h)
    return out


def derived_credit(rules: Mapping[str, list[RuleHealth]], credit: str) -> dict[str, list[RuleHealth]]:
    """The sub-technique ↔ parent rule, one direction at most (``credit`` from the scan config):

    * ``none`` (default, DeTT&CT's rule): a technique counts only its own rules;
    * ``sub-to-parent``: a rule for T1059.001 also detects *some* T1059 — the parent gets at most 1 ("poor") from it;
    * ``parent-to-sub``: a rule tagged T1059 also counts, at most 1, for each sub-technique.
    """
    out: dict[str, list[RuleHealth]] = defaultdict(list)
    if credit == "sub-to-parent":
        for tid, hs in rules.items():
            if "." in tid:
                out[tid.split(".")[0]] += [h for h in hs if tid.split(".")[0] not in h.rule.technique_ids]
    elif credit == "parent-to-sub":
        parents = {t for t in rules if "." not in t}
        for h in (h for t in parents for h in rules[t]):
            for sub in {t for t in rules if t.split(".")[0] in h.rule.technique_ids and "." in t}:
                if sub not in h.rule.technique_ids:
                    out[sub].append(h)
    return out


def _explain(group: str, score: int, rules: tuple[str, ...], broken: tuple[str, ...], unverified: tuple[str, ...],
             sources: tuple[str, ...]) -> str:
    parts = [f"{group}: score {score}"]
    if rules:
        parts.append(f"{len(rules)} healthy rule(s): " + "; ".join(rules[:5]) + (" …" if len(rules) > 5 else ""))
        parts.append(f"{len(sources)} independent source(s): " + ", ".join(sources))
    else:
        parts.append("no healthy rule here")
    if broken:
        shown = [b for b in broken if b not in unverified]
        if shown:
            more = " …" if len(shown) > 3 else ""
            parts.append(f"{len(shown)} rule(s) not counted: " + "; ".join(shown[:3]) + more)
    if unverified:
        parts.append(f"{len(unverified)} unverified (never counted): " + "; ".join(unverified[:2]))
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
    issues = check_technique_admin(doc, path)
    if any(i.severity is Severity.ERROR for i in issues):
        return {}, issues
    out: dict[str, ManualScore] = {}
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
        out[res.current] = ManualScore(res.current, det, vis, max(d_date, v_date), d_comment, str(where),
                                       _scopes(tech.get("detection")), _scopes(tech.get("visibility")))
    return out, issues


def _scopes(objs: Any) -> tuple[tuple[tuple[str, ...], int], ...]:
    """Per DeTT&CT object: its ``applicable_to`` and its current score (objects without a score are left out)."""
    items = objs if isinstance(objs, list) else [objs] if objs else []
    out = []
    for obj in items:
        score = _latest(obj)[0]
        if score is not None and isinstance(obj, Mapping):
            applicable = obj.get("applicable_to") or ["all"]
            out.append((tuple(str(a) for a in (applicable if isinstance(applicable, list) else [applicable])), score))
    return tuple(out)
