"""Which Sigma rules to suggest for the gaps: tagged with a gap technique, not already deployed, and healthy
where they would run — with system groups (:mod:`detcov.rulepack.scope`), only the groups whose own devices
collect the rule's log source on one of its platforms are targets, and a rule without a target is not
suggested.

Ranking rule, within one gap technique (the goal is to close a coverage gap, so a rule that catches the
behaviour beats one that names a single tool):

1. behaviour rules before single-tool signatures (a title or file naming a hack tool, PUA, malware or antivirus
   signature: ``HackTool - …``, ``proc_creation_win_hktl_*``, ``*_mal_*`` …);
2. greater reach first (the share of the hosts on the rule's platforms where it would be healthy);
3. Sigma status stable > test > experimental; level critical > … > informational; fewer false-positive notes;
   then by title.

The pack goes round by round so it spreads over many gaps: the best rule of every gap technique (gaps by
threat weight, then priority), then the second best of each, up to ``per_technique`` rounds, cut at ``top``.
False-positive notes (which need the rule's YAML) are read only for the rules that compete for a place.
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
from detcov.rulepack.scope import GroupView, by_device, healthy_groups, reach, runs_in
from detcov.rules import Rule, RuleFormat
from detcov.rules.common import SkipFile, get, strings, text, yaml_documents
from detcov.rules.health import need_met, rule_platforms

SIGNATURE_TITLES = ("hacktool", "pua", "malware", "antivirus", "hktl")
SIGNATURE_FILES = ("_hktl_", "_pua_", "_mal_", "_malware_", "/malware/", "/emerging-threats/", "rules-emerging-threats")

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


def is_signature(rule: Rule) -> bool:
    """Does the rule look for one named tool, malware family, PUA or antivirus verdict (not a behaviour)?"""
    title = rule.title.casefold()
    path = rule.path.replace("\\", "/").casefold()
    return title.startswith(SIGNATURE_TITLES) or any(mark in path for mark in SIGNATURE_FILES)


def quality(rule: Rule, extras: SigmaExtras) -> tuple[int, int, int, str]:
    """Sigma status stable > test > experimental, level critical > … > informational, fewer false-positive
    notes; ties by title."""
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
    groups: tuple[GroupView, ...] = ()
    reach: float = 0.0
    by_device: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def signature(self) -> bool:
        return is_signature(self.rule)

    def cheap_key(self) -> tuple[bool, float, int, int]:
        """The ranking key without the false-positive notes (no file read)."""
        return (self.signature, -self.reach, STATUS_RANK.get((self.rule.raw_status or "").lower(), 3),
                LEVEL_RANK.get(self.rule.severity or "", 5))


def eligible_rules(kb: AttackKB, gaps: Mapping[str, GapLike], telemetry: CollectedTelemetry,
                   deployed: Sequence[Rule], sigma_rules: Sequence[Rule],
                   groups: Sequence[GroupView] | None = None) -> list[Eligible]:
    """Sigma rules that pass the filters (tagged with a gap technique, not deployed, log source collected —
    with ``groups``: healthy in at least one system group), with the technique ids as counted here."""
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
        if groups is None:
            source = collected_log_source(rule, kb, telemetry)
            if source is not None:
                seen.add(raw.id)
                out.append(Eligible(rule, covers, source, newer))
            continue
        targets = healthy_groups(rule, kb, groups)
        if targets:
            seen.add(raw.id)
            source = runs_in(rule, kb, targets[0]) or ""
            out.append(Eligible(rule, covers, source, newer, targets,
                                reach(targets, groups, rule_platforms(rule, kb)), by_device(rule, kb, targets)))
    return out


class _Ranked:
    """One technique's eligible rules in ranking order, reading false-positive notes run by run (only the
    runs of equal cheap keys that the pack reaches)."""

    def __init__(self, items: list[Eligible], extras: Callable[[Rule], SigmaExtras]) -> None:
        self.pending = sorted(items, key=lambda e: (e.cheap_key(), e.rule.title))
        self.ranked: list[Eligible] = []
        self.extras = extras

    def _extend(self) -> bool:
        if not self.pending:
            return False
        key = self.pending[0].cheap_key()
        run = [e for e in self.pending if e.cheap_key() == key]
        self.pending = [e for e in self.pending if e.cheap_key() != key]
        self.ranked += sorted(run, key=lambda e: quality(e.rule, self.extras(e.rule))[2:])
        return True

    def first_not_in(self, picked: Mapping[str, object]) -> Eligible | None:
        i = 0
        while True:
            while i < len(self.ranked):
                if self.ranked[i].rule.id not in picked:
                    return self.ranked[i]
                i += 1
            if not self._extend():
                return None


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
    groups: Sequence[GroupView] | None = None,
) -> list[Candidate]:
    """The ranked rule pack for the gaps of the given classes (default: rule-gap and broken); with ``groups``
    every candidate targets the system groups where it would be healthy."""
    wanted = {g.technique: g for g in gaps if g.gap in classes}
    found = eligible_rules(kb, wanted, telemetry, deployed, sigma_rules, groups)
    order = sorted(wanted.values(), key=lambda g: (-g.weight, -g.priority, g.technique))
    cache: dict[str, SigmaExtras] = {}

    def cached(rule: Rule) -> SigmaExtras:
        if rule.id not in cache:
            cache[rule.id] = extras(rule)
        return cache[rule.id]

    per_items: dict[str, list[Eligible]] = {g.technique: [] for g in order}
    for item in found:
        for tid in item.covers:
            per_items[tid].append(item)
    per = {tid: _Ranked(items, cached) for tid, items in per_items.items()}
    picked: dict[str, Candidate] = {}
    for _ in range(per_technique):
        for gap in order:
            if len(picked) >= top:
                return list(picked.values())
            best = per[gap.technique].first_not_in(picked)
            if best is not None:
                picked[best.rule.id] = _candidate(best, wanted, len(picked) + 1, cached(best.rule))
    return list(picked.values())


def _candidate(item: Eligible, gaps: Mapping[str, GapLike], rank: int, extras: SigmaExtras) -> Candidate:
    covers = sorted(item.covers, key=lambda t: (-gaps[t].weight, -gaps[t].priority, t))
    best = gaps[covers[0]]
    return Candidate(
        rule=item.rule,
        techniques=tuple(covers),
        weight=best.weight,
        priority=best.priority,
        rank=rank,
        why=explain(item, [gaps[t] for t in covers], extras),
        log_source=item.log_source,
        newer_ids=item.newer,
        extras=extras,
        groups=tuple(g.name for g in item.groups),
        reach=item.reach,
        by_device=item.by_device,
        signature=item.signature,
    )


def explain(item: Eligible, gaps: Sequence[GapLike], extras: SigmaExtras) -> str:
    """Why this rule fits this bank: ``covers T1003.001 … (rule-gap, weight 0.80) | behaviour rule | runs on
    Windows servers, SWIFT zone (log source … collected there; 12 % of the hosts on its platforms) | …``."""
    covered = "; ".join(f"{g.technique} {g.name} ({g.gap}, weight {g.weight:.2f})" for g in gaps)
    fps = extras.falsepositives
    kind = ("single-tool signature (ranked after behaviour rules)" if item.signature
            else "behaviour rule (not tied to one tool)")
    where = (f"runs on {', '.join(g.name for g in item.groups)} (log source {item.log_source} collected there; "
             f"{item.reach:.0%} of the hosts on its platforms)" if item.groups
             else f"log source {item.log_source} is collected")
    parts = [
        f"covers {covered}",
        kind,
        where,
        f"Sigma status {item.rule.raw_status or 'none'}, level {item.rule.severity or 'none'}",
        "false positives: " + ("; ".join(fps) if fps else "none stated"),
    ]
    parts += [n.note for n in item.newer if n.loaded]
    return " | ".join(parts)
