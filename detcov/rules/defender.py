"""Microsoft Defender XDR custom detections (YAML in the Graph ``detectionRule`` shape).

ATT&CK: ``detectionAction.alertTemplate.mitreTechniques`` with the tactic as ``category`` (CamelCase), or, in the
newer Graph shape, ``alertTemplate.tactics[]`` of ``{tactic, techniques: [{technique}]}``.
Deployment state: ``isEnabled``, or ``status`` (``enabled`` / ``disabled``) in the newer shape. No log source is
declared: the advanced-hunting tables of ``queryText`` stand in.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from detcov.errors import Location
from detcov.rules.common import Parsed, ReadContext, as_list, get, severity, strings, text, truthy
from detcov.rules.model import LogSourceReq, Rule, RuleFormat, RuleStatus
from detcov.rules.sentinel import query_tables


def is_defender(doc: Any) -> bool:
    return isinstance(doc, Mapping) and ("queryCondition" in doc or "detectionAction" in doc)


def read_defender(path: str, docs: list[Any], ctx: ReadContext) -> Parsed:
    out = Parsed()
    for index, doc in enumerate(docs):
        if not is_defender(doc):
            out.skip_item(f"YAML document {index + 1} is not a Defender XDR custom detection", Location(path))
            continue
        template = get(doc, "detectionAction", "alertTemplate")
        query = text(get(doc, "queryCondition", "queryText"))
        reqs = tuple(
            LogSourceReq("table", t, (ctx.maps.lookup("sentinel", t),)) for t in query_tables(ctx, query)
        )
        enabled = truthy(doc.get("isEnabled"))
        if enabled is None:
            enabled = truthy(doc.get("status"))
        tactics = [t for t in as_list(get(template, "tactics")) if isinstance(t, Mapping)]
        techniques = strings(get(template, "mitreTechniques")) + [
            s for t in tactics for item in as_list(t.get("techniques")) for s in strings(get(item, "technique"))]
        title = text(doc.get("displayName")) or text(get(template, "title")) or Path(path).stem
        out.rules.append(
            Rule(
                format=RuleFormat.DEFENDER,
                location=Location(path, 1 if index == 0 else None),
                id=text(doc.get("id")) or text(doc.get("detectorId")) or Path(path).stem,
                title=title,
                status=RuleStatus.DISABLED if enabled is False else RuleStatus.ENABLED,
                raw_status=_raw_status(doc, enabled),
                severity=severity(get(template, "severity")),
                techniques=ctx.techniques(techniques),
                tactics=ctx.tactics(strings(get(template, "category")) + [s for t in tactics
                                                                         for s in strings(t.get("tactic"))]),
                log_sources=reqs,
                platforms=tuple(dict.fromkeys(p for r in reqs for n in r.needs for p in n.platforms)),
                query=query,
            )
        )
    return out


def _raw_status(doc: Mapping[str, Any], enabled: bool | None) -> str | None:
    if "isEnabled" in doc and enabled is not None:
        return f"isEnabled: {str(enabled).lower()}"
    return f"status: {doc['status']}" if isinstance(doc.get("status"), str) else None
