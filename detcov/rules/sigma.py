"""Sigma rules (YAML): single rules, ``action: global`` multi-document collections, and files with Sigma v2
correlations (read by :mod:`detcov.rules.sigma_correlation`).

ATT&CK lives in ``tags`` mixed with tactics (hyphen or legacy underscore), groups (``attack.g0016``), software
(``attack.s0002``), data sources (``attack.ds0005``), ``car.*``, ``cve.*`` and ``detection.*`` tags: only
``^attack\\.t\\d{4}(\\.\\d{3})?$`` is a technique. Sigma has no deployment state: ``status`` is a lifecycle
(test / stable count as enabled, experimental as experimental, deprecated / unsupported as deprecated).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from detcov.errors import Location
from detcov.rules.common import Parsed, ReadContext, get, severity, strings, text
from detcov.rules.model import LogSourceReq, Rule, RuleFormat, RuleStatus
from detcov.rules.sigma_correlation import is_correlation, read_correlations

TECHNIQUE_TAG = re.compile(r"^attack\.t\d{4}(?:\.\d{3})?$", re.IGNORECASE)
NON_TACTIC_TAG = re.compile(r"^attack\.(?:g|s|ds|c|m)\d{4}$", re.IGNORECASE)
_TOP_KEY = re.compile(r"^[^\s#-]", re.MULTILINE)
_DOC_START = re.compile(r"^---", re.MULTILINE)
STATUS = {
    "stable": RuleStatus.ENABLED,
    "test": RuleStatus.ENABLED,
    "experimental": RuleStatus.EXPERIMENTAL,
    "deprecated": RuleStatus.DEPRECATED,
    "unsupported": RuleStatus.DEPRECATED,
}


def is_sigma(doc: Any) -> bool:
    return isinstance(doc, Mapping) and (
        ("detection" in doc and ("logsource" in doc or "title" in doc)) or doc.get("action") == "global"
        or is_correlation(doc)
    )


def read_sigma(path: str, source: str, docs: list[Any], ctx: ReadContext) -> Parsed:
    """Rules of one Sigma file (``docs`` are its YAML documents)."""
    out = Parsed()
    if isinstance(docs[0], Mapping) and docs[0].get("action") == "global":
        base = {k: v for k, v in docs[0].items() if k != "action"}
        starts = [source.count("\n", 0, m.start()) + 2 for m in _DOC_START.finditer(source)]
        for index, doc in enumerate(docs[1:], start=1):
            line = starts[index - 1] if index - 1 < len(starts) else 1
            merged = _merge(base, doc) if isinstance(doc, Mapping) else doc
            if is_sigma(merged):
                out.rules.append(sigma_rule(merged, Location(path, line), ctx, index=index))
            else:
                out.skip_item(
                    f"document {index + 1} of the collection is not a Sigma rule", Location(path, line)
                )
        return out
    if any(is_correlation(d) for d in docs):
        return read_correlations(path, source, docs, ctx, sigma_rule)
    for index, doc in enumerate(docs):
        if is_sigma(doc):
            query = detection_text(source) if len(docs) == 1 and ctx.queries else ""
            out.rules.append(sigma_rule(doc, Location(path, 1 if index == 0 else None), ctx, query=query))
        else:
            out.skip_item(f"YAML document {index + 1} is not a Sigma rule", Location(path))
    return out


def detection_text(source: str) -> str:
    """The ``detection:`` block of a one-rule file, as written (up to the next top-level key)."""
    start = 0 if source.startswith("detection:") else source.find("\ndetection:") + 1
    if start == 0 and not source.startswith("detection:"):
        return ""
    end = _TOP_KEY.search(source, start + 10)
    return source[start : end.start() if end else len(source)].rstrip()


def _merge(base: Mapping[str, Any], doc: Mapping[str, Any]) -> dict[str, Any]:
    """A collection member: global keys, overridden by the member's (mappings merged one level deep)."""
    merged = dict(base)
    for key, value in doc.items():
        old = merged.get(key)
        merged[key] = {**old, **value} if isinstance(old, Mapping) and isinstance(value, Mapping) else value
    return merged


def sigma_rule(
    doc: Mapping[str, Any], location: Location, ctx: ReadContext, *, index: int | None = None, query: str = ""
) -> Rule:
    tags = strings(doc.get("tags"))
    technique_tags = [t for t in tags if TECHNIQUE_TAG.match(t)]
    tactic_tags = [
        t
        for t in tags
        if t.lower().startswith("attack.") and not TECHNIQUE_TAG.match(t) and not NON_TACTIC_TAG.match(t)
    ]
    tactics = ctx.tactics(tactic_tags)
    notes = [
        f"tactic tag {t!r} is not in ATT&CK {ctx.kb.version}" for t in tactic_tags if ctx.tactic(t) is None
    ]
    logsource = doc.get("logsource")
    need = ctx.maps.sigma(*(text(get(logsource, k)) or None for k in ("product", "category", "service")))
    raw_status = text(doc.get("status")) or None
    rule_id = text(doc.get("id")) or Path(location.path).stem
    return Rule(
        format=RuleFormat.SIGMA,
        location=location,
        id=f"{rule_id}#{index}" if index is not None else rule_id,
        title=text(doc.get("title"), rule_id),
        status=STATUS.get((raw_status or "").lower(), RuleStatus.ENABLED),
        raw_status=raw_status,
        severity=severity(doc.get("level")),
        techniques=ctx.techniques(technique_tags),
        tactics=tactics,
        log_sources=(LogSourceReq("sigma", need.label, (need,)),) if isinstance(logsource, Mapping) else (),
        platforms=need.platforms,
        query=(query or _detection_text(doc)) if ctx.queries else "",
        notes=tuple(notes),
        name=text(doc.get("name")) or None,
    )


def _detection_text(doc: Mapping[str, Any]) -> str:
    detection = doc.get("detection")
    return f"condition: {text(get(detection, 'condition'))}" if isinstance(detection, Mapping) else ""
