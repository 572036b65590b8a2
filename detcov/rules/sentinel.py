"""Microsoft Sentinel analytic rules: YAML (repo / Sentinel-as-code) and ARM-template / API JSON exports.

ATT&CK: ``relevantTechniques`` (YAML) or ``techniques`` + ``subTechniques`` (API / ARM), tactics as
CamelCase names.
Log source: ``requiredDataConnectors`` in all its shapes (list of ``{connectorId, dataTypes}``, a bare
mapping,
template placeholders ``YourConnectorId``, annotated tables ``"CommonSecurityLog (Cisco)"``, a top-level
``dataTypes``); when none is usable, the KQL tables the query reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from detcov.errors import Location
from detcov.rules.common import Parsed, ReadContext, as_list, get, severity, strings, text, truthy
from detcov.rules.model import LogSourceReq, Rule, RuleFormat, RuleStatus

_HINTS = (
    "requiredDataConnectors",
    "relevantTechniques",
    "queryFrequency",
    "triggerOperator",
    "tactics",
    "techniques",
    "dataTypes",
    "queryPeriod",
)
_PLACEHOLDER = re.compile(r"^your", re.IGNORECASE)
_TABLE = re.compile(r"(?:^\s*|\bunion\s+(?:kind\s*=\s*\w+\s+)?|[,(]\s*)([A-Za-z_][A-Za-z0-9_]*)\b", re.MULTILINE)


def is_sentinel(doc: Any) -> bool:
    return isinstance(doc, Mapping) and "query" in doc and any(k in doc for k in _HINTS)


def is_arm(doc: Any) -> bool:
    return isinstance(doc, Mapping) and (
        isinstance(doc.get("resources"), list)
        or (isinstance(doc.get("properties"), Mapping) and "query" in doc["properties"])
    )


def query_tables(ctx: ReadContext, query: str) -> list[str]:
    """KQL tables a query reads that the table mapping knows (``let`` names and columns are not tables)."""
    seen = dict.fromkeys(m.group(1) for m in _TABLE.finditer(query))
    return [name for name in seen if ctx.maps.lookup("sentinel", name).mapped]


def _table(name: str) -> str:
    return name.split("(")[0].strip()


def connector_reqs(ctx: ReadContext, doc: Mapping[str, Any]) -> tuple[LogSourceReq, ...]:
    reqs: list[LogSourceReq] = []
    for item in as_list(doc.get("requiredDataConnectors")) + (
        [{"dataTypes": doc["dataTypes"]}] if "dataTypes" in doc else []
    ):
        if not isinstance(item, Mapping):
            continue
        connector = text(item.get("connectorId"))
        tables = [_table(t) for t in strings(item.get("dataTypes")) if not _PLACEHOLDER.match(t)]
        if connector and not _PLACEHOLDER.match(connector) and ctx.maps.lookup("sentinel", connector).mapped:
            reqs.append(LogSourceReq("connector", connector, (ctx.maps.lookup("sentinel", connector),)))
        else:
            reqs += [LogSourceReq("table", t, (ctx.maps.lookup("sentinel", t),)) for t in tables]
            if connector and not tables and not _PLACEHOLDER.match(connector):
                reqs.append(LogSourceReq("connector", connector, (ctx.maps.lookup("sentinel", connector),)))
    if not any(r.mapped for r in reqs):
        found = [
            LogSourceReq("table", t, (ctx.maps.lookup("sentinel", t),))
            for t in query_tables(ctx, text(doc.get("query")))
        ]
        reqs = found or reqs
    return tuple(dict.fromkeys(reqs))


def _status(doc: Mapping[str, Any], title: str) -> tuple[RuleStatus, str | None]:
    enabled = truthy(doc.get("enabled"))
    raw = text(doc.get("status")) or None
    if enabled is False:
        return RuleStatus.DISABLED, raw or "enabled: false"
    if (raw or "").lower() == "deprecated" or title.lower().startswith("[deprecated]"):
        return RuleStatus.DEPRECATED, raw or "[Deprecated] title"
    return RuleStatus.ENABLED, raw or ("enabled: true" if enabled else None)


def sentinel_rule(
    doc: Mapping[str, Any], location: Location, fmt: RuleFormat, ctx: ReadContext, fallback_id: str
) -> Rule:
    title = text(doc.get("name")) if fmt is RuleFormat.SENTINEL_YAML else ""
    title = text(doc.get("displayName")) or title or fallback_id
    techniques = [
        *strings(doc.get("relevantTechniques")),
        *strings(doc.get("techniques")),
        *strings(doc.get("subTechniques")),
    ]
    reqs = connector_reqs(ctx, doc)
    status, raw = _status(doc, title)
    return Rule(
        format=fmt,
        location=location,
        id=text(doc.get("id")) or fallback_id,
        title=title,
        status=status,
        raw_status=raw,
        severity=severity(doc.get("severity")),
        techniques=ctx.techniques(techniques),
        tactics=ctx.tactics(strings(doc.get("tactics"))),
        log_sources=reqs,
        platforms=tuple(dict.fromkeys(p for r in reqs for n in r.needs for p in n.platforms)),
        query=text(doc.get("query")),
    )


def read_sentinel_yaml(path: str, docs: list[Any], ctx: ReadContext) -> Parsed:
    out = Parsed()
    for index, doc in enumerate(docs):
        if is_sentinel(doc):
            out.rules.append(
                sentinel_rule(
                    doc,
                    Location(path, 1 if index == 0 else None),
                    RuleFormat.SENTINEL_YAML,
                    ctx,
                    Path(path).stem,
                )
            )
        else:
            out.skip_item(f"YAML document {index + 1} is not a Sentinel analytic rule", Location(path))
    return out


def read_arm(path: str, doc: Mapping[str, Any], ctx: ReadContext) -> Parsed:
    """An ARM template (``resources[]`` of ``.../alertRules``) or one API-shape rule (``{"properties":
    ...}``)."""
    out = Parsed()
    resources = doc["resources"] if isinstance(doc.get("resources"), list) else [doc]
    for index, res in enumerate(resources):
        props = get(res, "properties")
        if not isinstance(props, Mapping) or "query" not in props:
            out.skip_item(
                f"resource {index + 1} ({text(get(res, 'type'), '?')}) is not an analytic rule",
                Location(path),
            )
            continue
        rule_id = text(get(res, "name")).split("/")[-1].strip("')]") or f"{Path(path).stem}#{index + 1}"
        out.rules.append(
            sentinel_rule(
                {**props, "id": text(props.get("id")) or rule_id},
                Location(path),
                RuleFormat.SENTINEL_ARM,
                ctx,
                rule_id,
            )
        )
    return out
