"""Which Sigma rules to suggest for the gaps: tagged with a gap technique, runnable on the telemetry the
institution already collects, not already deployed; ranked by threat weight, Sigma status, level and
false-positive notes.

The ranking goes round by round so one pack spreads over many gaps: the best rule of every gap technique
(gaps by threat weight, then priority), then the second best of each, up to ``per_technique`` rounds, cut at
``top`` rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from detcov.attack import AttackKB
from detcov.datasources.telemetry import CollectedTelemetry
from detcov.rulepack.model import GAP_CLASSES, Candidate, GapLike, NewerId, SigmaExtras
from detcov.rulepack.newer import counted_rule
from detcov.rules import Rule, RuleFormat
from detcov.rules.common import SkipFile, get, strings, text, yaml_documents
from detcov.rules.health import need_met, rule_platforms

STATUS_RANK = {"stable": 0, "test": 1, "experimental": 2}
LEVEL_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "informational": 4}
_NO_FP = frozenset({"unlikely", "none", "none known", "very unlikely"})
_UNKNOWN_FP = frozenset({"unknown", ""})

ExtrasReader = Callable[[Rule], SigmaExtras]


def fold(value: str) -> str:
    return " ".join(value.casefold().split())


# ----- the three filters -------------------------------------------------------------------------------------
def collected_log_source(rule: Rule, kb: AttackKB, telemetry: CollectedTelemetry) -> str | None:
    """The rule's log source, as written, when everything it needs is collected; None when some need is
    missing or the mapping tables do not know the log source (then nobody can promise it runs).

    Stricter than rule health: when the inventory lists device types, each need must name the devices that
    produce it. A log source known only by its generic category (``product:opencanary category:application``
    → Application Log Content) does not show that the institution runs that product."""
    platforms = rule_platforms(rule, kb)
    for req in rule.log_sources:
        if req.mapped and all(
            (need.device_types or not telemetry.device_types) and need_met(need, telemetry, platforms)
            for need in req.needs
        ):
            return req.value
    return None


def deployed_keys(deployed: Iterable[Rule]) -> frozenset[str]:
    """Folded ids and titles of the institution's rules (any format): a Sigma rule converted into a SIEM
    keeps its id (Elastic rule_id, Sentinel id) or its title (savedsearch stanza, rule name)."""
    keys: set[str] = set()
    for rule in deployed:
        keys.add(fold(rule.id.split("#", 1)[0]))
        if rule.title:
            keys.add(fold(rule.title))
    keys.discard("")
    return frozenset(keys)


def is_deployed(rule: Rule, keys: frozenset[str]) -> bool:
    return fold(rule.id.split("#", 1)[0]) in keys or fold(rule.title) in keys


# ----- what the Rule model leaves out ------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def _documents(path: str) -> tuple[Any, ...]:
    try:
        return tuple(yaml_documents(Path(path).read_text(encoding="utf-8-sig")))
    except (OSError, UnicodeDecodeError, SkipFile):
        return ()


def sigma_document(rule: Rule) -> Mapping[str, Any]:
    """The rule's YAML mapping (a collection member merged over its ``action: global`` document)."""
    docs = _documents(rule.path)
    _, _, index = rule.id.partition("#")
    if index.isdigit() and len(docs) > int(index):
        base = {k: v for k, v in docs[0].items() if k != "action"} if isinstance(docs[0], Mapping) else {}
        member = docs[int(index)]
        return {**base, **member} if isinstance(member, Mapping) else base
    return docs[0] if docs and isinstance(docs[0], Mapping) else {}


def read_extras(rule: Rule) -> SigmaExtras:
    """False-positive notes, description, references, author and logsource of a Sigma rule (from its file)."""
    doc = sigma_document(rule)
    logsource = doc.get("logsource")
    return SigmaExtras(
        falsepositives=tuple(strings(doc.get("falsepositives"))),
        description=" ".join(text(doc.get("description")).split()),
        references=tuple(strings(doc.get("references"))),
        author=" ".join(text(doc.get("author")).split()),
        product=text(get(logsource, "product")) or None,
        category=text(get(logsource, "category")) or None,
        service=text(get(logsource, "service")) or None,
    )


# ----- ranking ----------------------------------------------------------------------------------------------
def fp_rank(notes: Sequence[str]) -> int:
    """0: false positives unlikely; 1: none stated / unknown; 2: known false positives to tune out."""
    folded = {fold(n).rstrip(".") for n in notes}
    if folded and folded <= _NO_FP:
        return 0
    if folded <= _UNKNOWN_FP | _NO_FP:
        return 1
    return 2


def quality(rule: Rule, extras: SigmaExtras) -> tuple[int, int, int, str]:
    """Sort key within one technique: stable > test > experimental, critical > … > informational, fewer
    false-positive notes; ties by title."""
    return (
        STATUS_RANK.get((rule.raw_status or "").lower(), 3),
        LEVEL_RANK.get(rule.severity or "", 5),
        fp_rank(extras.falsepositives),
        rule.title,
    )


@dataclass(frozen=True, slots=True)
class Eligible:
    rule: Rule
    covers: tuple[str, ...]
    log_source: str
    newer: tuple[NewerId, ...]
    extras: SigmaExtras


def eligible_rules(kb: AttackKB, gaps: Mapping[str, GapLike], telemetry: CollectedTelemetry,
                   deployed: Sequence[Rule], sigma_rules: Sequence[Rule],
                   extras: ExtrasReader = read_extras) -> list[Eligible]:
    """Sigma rules that pass the three filters (tagged with a gap technique, not deployed, log source
    collected), with the technique ids as counted here."""
    keys = deployed_keys(deployed)
    seen: set[str] = set()
    out: list[Eligible] = []
    for raw in sigma_rules:
        if raw.format is not RuleFormat.SIGMA or not raw.status.active or raw.id in seen:
            continue
        rule, newer = counted_rule(raw, kb)
        covers = tuple(t for t in rule.technique_ids if t in gaps)
        if not covers or is_deployed(rule, keys):
            continue
        source = collected_log_source(rule, kb, telemetry)
        if source is None:
            continue
        seen.add(raw.id)
        out.append(Eligible(rule, covers, source, newer, extras(rule)))
    return out


def select_candidates(
    kb: AttackKB,
    gaps: Iterable[GapLike],
    telemetry: CollectedTelemetry,
    deployed: Sequence[Rule],
    sigma_rules: Sequence[Rule],
    top: int = 30,
    *,
    per_technique: int = 3,
    classes: Sequence[str] = GAP_CLASSES,
    extras: ExtrasReader = read_extras,
) -> list[Candidate]:
    """The ranked rule pack for the gaps of the given classes (default: rule-gap and broken)."""
    wanted = {g.technique: g for g in gaps if g.gap in classes}
    found = eligible_rules(kb, wanted, telemetry, deployed, sigma_rules, extras)
    order = sorted(wanted.values(), key=lambda g: (-g.weight, -g.priority, g.technique))
    per: dict[str, list[Eligible]] = {g.technique: [] for g in order}
    for item in found:
        for tid in item.covers:
            per[tid].append(item)
    for items in per.values():
        items.sort(key=lambda e: quality(e.rule, e.extras))
    picked: dict[str, Candidate] = {}
    for _ in range(per_technique):
        for gap in order:
            if len(picked) >= top:
                return list(picked.values())
            best = next((e for e in per[gap.technique] if e.rule.id not in picked), None)
            if best is not None:
                picked[best.rule.id] = _candidate(best, wanted, len(picked) + 1)
    return list(picked.values())


def _candidate(item: Eligible, gaps: Mapping[str, GapLike], rank: int) -> Candidate:
    covers = sorted(item.covers, key=lambda t: (-gaps[t].weight, -gaps[t].priority, t))
    best = gaps[covers[0]]
    return Candidate(
        rule=item.rule,
        techniques=tuple(covers),
        weight=best.weight,
        priority=best.priority,
        rank=rank,
        why=explain(item, [gaps[t] for t in covers]),
        log_source=item.log_source,
        newer_ids=item.newer,
        extras=item.extras,
    )


def explain(item: Eligible, gaps: Sequence[GapLike]) -> str:
    """``covers T1003.001 OS Credential Dumping: LSASS Memory (rule-gap, weight 0.80); stable, high; …``."""
    covered = "; ".join(f"{g.technique} {g.name} ({g.gap}, weight {g.weight:.2f})" for g in gaps)
    fps = item.extras.falsepositives
    parts = [
        f"covers {covered}",
        f"Sigma status {item.rule.raw_status or 'none'}, level {item.rule.severity or 'none'}",
        f"log source {item.log_source} is collected",
        "false positives: " + ("; ".join(fps) if fps else "none stated"),
    ]
    parts += [n.note for n in item.newer if n.loaded]
    return " | ".join(parts)
