"""Sigma v2 correlation rules: ``correlation:`` documents (event_count, value_count, temporal, temporal_ordered).

A correlation is a rule of its own: its ATT&CK tags, status and level are its own, its log sources are those of the
rules it correlates (by ``id`` or ``name``; chained correlations are followed). Temporal correlations need every
referenced rule's log source at once (one requirement with all of them); counts need any one (alternatives).

In a multi-document file the referenced rules are building blocks, not queries of their own (Sigma's ``generate:
false``, the default): they are accounted as skipped items with that reason. References to rules in other files
are resolved after the whole read (:func:`link_correlations`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from detcov.errors import Location
from detcov.rules.common import Parsed, ReadContext, strings, text
from detcov.rules.model import Correlation, LogSourceReq, Rule, RuleFormat

TYPES = frozenset({"event_count", "value_count", "temporal", "temporal_ordered"})
_MARKER = re.compile(r"^---[ \t]*$", re.MULTILINE)
RuleBuilder = Callable[[Mapping[str, Any], Location, ReadContext], Rule]


def is_correlation(doc: Any) -> bool:
    return isinstance(doc, Mapping) and isinstance(doc.get("correlation"), Mapping)


def document_lines(source: str, count: int) -> list[int]:
    """1-based first line of each of ``count`` YAML documents (``---`` separated)."""
    found = list(_MARKER.finditer(source))
    markers = [source.count("\n", 0, m.start()) + 2 for m in found]
    head = source[: found[0].start()] if found else source
    leading = bool(found) and not any(line.strip() and not line.lstrip().startswith("#")
                                      for line in head.splitlines())
    starts = markers if leading else [1, *markers]
    return [starts[i] if i < len(starts) else 1 for i in range(count)]


def correlation_log_sources(kind: str, referenced: Sequence[Rule]) -> tuple[LogSourceReq, ...]:
    """The log-source requirement of a correlation over ``referenced`` rules (see the module docstring)."""
    reqs = list(dict.fromkeys(req for r in referenced for req in r.log_sources))
    if kind in ("temporal", "temporal_ordered") and len(reqs) > 1:
        needs = tuple(dict.fromkeys(n for req in reqs for n in req.needs))
        return (LogSourceReq("sigma", " + ".join(req.value for req in reqs), needs),)
    return tuple(reqs)


def _correlation_rule(doc: Mapping[str, Any], base: Rule, refs: tuple[str, ...], kind: str) -> Rule:
    body = doc["correlation"]
    group_by = tuple(strings(body.get("group-by")))
    timespan = text(body.get("timespan"))
    query = f"correlation: {kind} of {', '.join(refs) or '(no rules)'}"
    query += (f" by {', '.join(group_by)}" if group_by else "") + (f" within {timespan}" if timespan else "")
    notes = base.notes if kind in TYPES else (*base.notes, f"correlation type {kind!r} is not a Sigma v2 type")
    return replace(base, correlation=Correlation(kind, refs, group_by, timespan), query=query, notes=notes,
                   log_sources=(), platforms=())


def read_correlations(path: str, source: str, docs: list[Any], ctx: ReadContext, sigma_rule: RuleBuilder) -> Parsed:
    """Every rule of a multi-document file that holds correlations; referenced base rules are skipped items."""
    out = Parsed()
    lines = document_lines(source, len(docs))
    built: dict[int, Rule] = {}
    for i, doc in enumerate(docs):
        if not isinstance(doc, Mapping) or not (is_correlation(doc) or "detection" in doc):
            out.skip_item(f"YAML document {i + 1} is not a Sigma rule or correlation", Location(path, lines[i]))
            continue
        rule = sigma_rule(doc, Location(path, lines[i]), ctx)
        if is_correlation(doc):
            body = doc["correlation"]
            rule = _correlation_rule(doc, rule, tuple(strings(body.get("rules"))), text(body.get("type")))
        built[i] = rule
    by_ref = {key: i for i, r in built.items() for key in (r.id, r.name) if key}
    building_blocks = {by_ref[ref]: i for i, r in built.items() if r.correlation and not _generates(docs[i])
                       for ref in r.correlation.rules if ref in by_ref}
    resolved: dict[int, Rule] = {}
    for i in built:
        resolved[i] = _resolve(i, built, by_ref, resolved, set())
    for i, rule in resolved.items():
        owner = building_blocks.get(i)
        if owner is not None and owner != i:
            out.skip_item(f"document {i + 1} ({rule.title}) is a building block of the correlation "
                          f"{resolved[owner].title!r}, not a query of its own", rule.location)
        else:
            out.rules.append(rule)
    return out


def _generates(doc: Any) -> bool:
    return isinstance(doc, Mapping) and doc.get("correlation", {}).get("generate") is True


def _resolve(i: int, built: Mapping[int, Rule], by_ref: Mapping[str, int], done: dict[int, Rule],
             visiting: set[int]) -> Rule:
    """A correlation with the log sources of the rules it references in the same file (chains followed)."""
    if i in done:
        return done[i]
    rule = built[i]
    corr = rule.correlation
    if corr is None or i in visiting:
        return rule
    visiting.add(i)
    referenced = [_resolve(by_ref[ref], built, by_ref, done, visiting) for ref in corr.rules if ref in by_ref]
    unresolved = tuple(ref for ref in corr.rules if ref not in by_ref)
    done[i] = _with_references(rule, referenced, unresolved)
    return done[i]


def _with_references(rule: Rule, referenced: Sequence[Rule], unresolved: tuple[str, ...]) -> Rule:
    assert rule.correlation is not None
    corr = replace(rule.correlation, unresolved=unresolved)
    platforms = tuple(dict.fromkeys(p for r in referenced for p in r.platforms))
    return replace(rule, correlation=corr, platforms=platforms,
                   log_sources=correlation_log_sources(corr.type, [*referenced]) or rule.log_sources)


def link_correlations(rules: Sequence[Rule]) -> list[Rule]:
    """Resolve correlation references to rules read from other files (by id or name); report what is missing."""
    if not any(r.correlation and r.correlation.unresolved for r in rules):
        return list(rules)
    index = {key: r for r in rules if r.format is RuleFormat.SIGMA for key in (r.id, r.name) if key}
    out = []
    for rule in rules:
        corr = rule.correlation
        if corr is None or not corr.unresolved:
            out.append(rule)
            continue
        found = [index[ref] for ref in corr.unresolved if ref in index and index[ref] is not rule]
        missing = tuple(ref for ref in corr.unresolved if ref not in index)
        merged = correlation_log_sources(corr.type, [rule, *found])  # rule: what the same file gave already
        platforms = tuple(dict.fromkeys(p for r in (rule, *found) for p in r.platforms))
        linked = replace(rule, correlation=replace(corr, unresolved=missing), log_sources=merged,
                         platforms=platforms)
        if missing:
            linked = replace(linked, notes=(*linked.notes, f"correlation references {', '.join(missing)}: "
                                                           "not found among the rules read"))
        out.append(linked)
    return out
