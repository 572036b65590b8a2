"""Elastic: detection-rules TOML and Kibana rule exports (NDJSON / JSON, API and saved-object shapes).

ATT&CK is ``threat[]`` (framework ``MITRE ATT&CK`` only) → ``tactic.id`` and ``technique[].id`` with nested
``subtechnique[].id``. The log source is ``index`` (patterns); ES|QL rules name it in the query's ``FROM``;
ML rules
have none, so the Fleet integrations (``metadata.integration`` / ``related_integrations``) stand in.
Status: TOML ``metadata.maturity`` (production / deprecated / development) and the rare ``rule.enabled``;
Kibana ``enabled`` is real deployment state.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from detcov.errors import Location
from detcov.rules.common import Parsed, ReadContext, SkipFile, as_list, get, severity, strings, text, truthy
from detcov.rules.model import LogSourceNeed, LogSourceReq, Rule, RuleFormat, RuleStatus

MATURITY = {
    "production": RuleStatus.ENABLED,
    "deprecated": RuleStatus.DEPRECATED,
    "development": RuleStatus.EXPERIMENTAL,
    "experimental": RuleStatus.EXPERIMENTAL,
    "beta": RuleStatus.EXPERIMENTAL,
}
_ESQL_FROM = re.compile(r"^\s*from\s+([^\s|]+(?:\s*,\s*[^\s|]+)*)", re.IGNORECASE)
_OS_TAG = {"os: windows": "Windows", "os: linux": "Linux", "os: macos": "macOS"}


def read_toml(path: str, source: str, ctx: ReadContext) -> Parsed:
    try:
        doc = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise SkipFile(f"malformed TOML: {exc}") from exc
    out = Parsed()
    rule = doc.get("rule")
    if not isinstance(rule, Mapping):
        raise SkipFile("not a rule: TOML without a [rule] table")
    meta = doc.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    out.rules.append(elastic_rule(rule, meta, Location(path, 1), RuleFormat.ELASTIC_TOML, ctx))
    return out


def threat_ids(threat: Any) -> tuple[list[str], list[str]]:
    """(technique ids, tactic ids) of an Elastic/Kibana ``threat`` list; other frameworks are ignored."""
    techniques: list[str] = []
    tactics: list[str] = []
    for entry in as_list(threat):
        if not isinstance(entry, Mapping) or text(entry.get("framework"), "MITRE ATT&CK") != "MITRE ATT&CK":
            continue
        tactics += strings(get(entry, "tactic", "id"))
        for tech in as_list(entry.get("technique")):
            techniques += strings(get(tech, "id"))
            techniques += [s for sub in as_list(get(tech, "subtechnique")) for s in strings(get(sub, "id"))]
    return techniques, tactics


def _log_sources(
    rule: Mapping[str, Any], meta: Mapping[str, Any], ctx: ReadContext
) -> tuple[LogSourceReq, ...]:
    indexes = strings(rule.get("index"))
    if not indexes and (m := _ESQL_FROM.match(text(rule.get("query")))):
        indexes = [i.strip() for i in m.group(1).split(",") if i.strip()]
    if indexes:
        return tuple(LogSourceReq("index", i, (ctx.maps.elastic_index(i),)) for i in dict.fromkeys(indexes))
    packages = strings(meta.get("integration")) + [
        p for item in as_list(rule.get("related_integrations")) for p in strings(get(item, "package"))
    ]
    reqs = [LogSourceReq("integration", p, (ctx.maps.lookup("elastic", p),)) for p in dict.fromkeys(packages)]
    if not reqs:
        jobs = strings(rule.get("machine_learning_job_id"))
        reqs = [LogSourceReq("ml-job", j, (LogSourceNeed(f"ML job {j}", ml_job=j),)) for j in jobs]
    return tuple(reqs)


def elastic_rule(
    rule: Mapping[str, Any], meta: Mapping[str, Any], location: Location, fmt: RuleFormat, ctx: ReadContext
) -> Rule:
    techniques, tactic_ids = threat_ids(rule.get("threat"))
    enabled = truthy(rule.get("enabled"))
    maturity = text(meta.get("maturity")) or None
    status = (
        RuleStatus.DISABLED
        if enabled is False
        else MATURITY.get((maturity or "").lower(), RuleStatus.ENABLED)
    )
    reqs = _log_sources(rule, meta, ctx)
    tags = strings(rule.get("tags"))
    platforms = [_OS_TAG[t.lower()] for t in tags if t.lower() in _OS_TAG]
    platforms += [p for r in reqs for n in r.needs for p in n.platforms]
    notes = (
        ["building-block rule (feeds other rules, raises no alert of its own)"]
        if rule.get("building_block_type")
        else []
    )
    rule_id = text(rule.get("rule_id")) or text(rule.get("id")) or Path(location.path).stem
    raw_status = maturity or (f"enabled = {str(enabled).lower()}" if enabled is not None else None)
    return Rule(
        format=fmt,
        location=location,
        id=rule_id,
        title=text(rule.get("name"), rule_id),
        status=status,
        raw_status=raw_status,
        severity=severity(rule.get("severity")),
        techniques=ctx.techniques(techniques),
        tactics=ctx.tactics(tactic_ids),
        log_sources=reqs,
        platforms=tuple(dict.fromkeys(platforms)),
        query=text(rule.get("query")) or ", ".join(strings(rule.get("machine_learning_job_id"))),
        notes=tuple(notes),
    )


# ----- Kibana exports ---------------------------------------------------------------------------------------
def kibana_kind(obj: Any) -> str:
    """``rule``, or why an exported object is not one (summary, exception list, connector, other)."""
    if not isinstance(obj, Mapping):
        return "not a JSON object"
    if "exported_count" in obj or "exported_rules_count" in obj:
        return "export summary line"
    if "list_id" in obj or "item_id" in obj:
        return "exception list or item"
    attributes = obj.get("attributes")
    if isinstance(attributes, Mapping):
        return (
            "rule"
            if obj.get("type") in ("security-rule", "alert", "siem-detection-engine-rule")
            else f"saved object of type {text(obj.get('type'), '?')!r}"
        )
    if "rule_id" in obj or (
        "name" in obj and "type" in obj and any(k in obj for k in ("query", "threat", "index"))
    ):
        return "rule"
    return "not a detection rule"


def kibana_rule(obj: Mapping[str, Any], location: Location, ctx: ReadContext) -> Rule:
    attributes = obj.get("attributes")
    if isinstance(attributes, Mapping):  # saved object; alerting-framework objects keep rule fields in params
        params = attributes.get("params")
        rule: dict[str, Any] = {**(params if isinstance(params, Mapping) else {}), **attributes}
        rule.setdefault("rule_id", rule.get("ruleId") or obj.get("id"))
        rule.setdefault("related_integrations", rule.get("relatedIntegrations"))
    else:
        rule = dict(obj)
    return elastic_rule(rule, {}, location, RuleFormat.KIBANA_JSON, ctx)


def read_ndjson(path: str, source: str, ctx: ReadContext) -> Parsed:
    out = Parsed()
    for number, line in enumerate(source.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            out.skip_item(f"line is not JSON ({exc})", Location(path, number))
            continue
        kind = kibana_kind(obj)
        if kind == "rule":
            out.rules.append(kibana_rule(obj, Location(path, number), ctx))
        else:
            out.skip_item(f"not a rule: {kind}", Location(path, number))
    return out
