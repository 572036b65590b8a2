"""Splunk: ESCU detection YAML and ``savedsearches.conf`` (the deployed ES app).

* ESCU YAML: ``tags.mitre_attack_id``; ``data_source`` names (alternatives; compound ``"A AND B"`` needs
both);
  ``status`` production / experimental / deprecated (no deployment state in the YAML).
* savedsearches.conf: ``[stanza]`` + ``key = value`` with ``\\`` continuation lines; only ES correlation
searches
  (``action.correlationsearch.enabled`` / ``.label``) are rules; ``disabled`` is the real deployment state;
  ATT&CK in the ``action.correlationsearch.annotations`` JSON (``mitre_attack``; legacy
  ``action.escu.mappings``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from detcov.errors import Location
from detcov.rules.common import Parsed, ReadContext, get, severity, strings, text, truthy
from detcov.rules.model import LogSourceReq, Rule, RuleFormat, RuleStatus

ESCU_STATUS = {
    "production": RuleStatus.ENABLED,
    "validation": RuleStatus.EXPERIMENTAL,
    "experimental": RuleStatus.EXPERIMENTAL,
    "deprecated": RuleStatus.DEPRECATED,
}
_ESCU_HINTS = ("data_source", "data_sources", "how_to_implement", "known_false_positives", "datamodel")
_DATAMODEL = re.compile(r"datamodel[=:]\s*\"?([A-Za-z_]+(?:\.[A-Za-z_]+)?)")


def is_escu(doc: Any) -> bool:
    return (
        isinstance(doc, Mapping)
        and "search" in doc
        and isinstance(doc.get("tags"), Mapping | None)
        and any(k in doc for k in _ESCU_HINTS)
    )


def _reqs(ctx: ReadContext, kind: str, values: list[str]) -> tuple[LogSourceReq, ...]:
    out: list[LogSourceReq] = []
    for value in dict.fromkeys(values):
        parts = [p.strip() for p in re.split(r"\s+AND\s+", value) if p.strip()]
        out.append(LogSourceReq(kind, value, tuple(ctx.maps.lookup("splunk", p) for p in parts)))
    return tuple(out)


def _platforms(reqs: tuple[LogSourceReq, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p for r in reqs for n in r.needs for p in n.platforms))


def read_escu(path: str, docs: list[Any], ctx: ReadContext) -> Parsed:
    out = Parsed()
    for index, doc in enumerate(docs):
        if not is_escu(doc):
            out.skip_item(f"YAML document {index + 1} is not an ESCU detection", Location(path))
            continue
        names = strings(doc.get("data_source")) or strings(doc.get("data_sources"))
        reqs = _reqs(ctx, "data-source", names)
        search = text(doc.get("search"))
        if not reqs:
            models = strings(doc.get("datamodel")) or _DATAMODEL.findall(search)
            reqs = _reqs(ctx, "datamodel", models)
        raw_status = text(doc.get("status")) or None
        rule_id = text(doc.get("id")) or Path(path).stem
        out.rules.append(
            Rule(
                format=RuleFormat.SPLUNK_ESCU,
                location=Location(path, 1 if index == 0 else None),
                id=rule_id,
                title=text(doc.get("name"), rule_id),
                status=ESCU_STATUS.get((raw_status or "").lower(), RuleStatus.ENABLED),
                raw_status=raw_status,
                severity=severity(get(doc, "tags", "severity")),
                techniques=ctx.techniques(strings(get(doc, "tags", "mitre_attack_id"))),
                log_sources=reqs,
                platforms=_platforms(reqs),
                query=search,
            )
        )
    return out


# ----- savedsearches.conf -----------------------------------------------------------------------------------
@dataclass
class Stanza:
    name: str
    line: int
    values: dict[str, str] = field(default_factory=dict)


def parse_conf(source: str) -> list[Stanza]:
    """Stanzas of a Splunk .conf file; a line ending with ``\\`` continues onto the next one."""
    stanzas: list[Stanza] = []
    current: Stanza | None = None
    key: str | None = None
    continued = False
    for number, raw in enumerate(source.splitlines(), start=1):
        line = raw.rstrip()
        if continued and current is not None and key is not None:
            current.values[key] += "\n" + line.removesuffix("\\")
            continued = line.endswith("\\")
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            current = Stanza(stripped[1:-1].strip(), number)
            stanzas.append(current)
        elif "=" in stripped and current is not None:
            key, _, value = stripped.partition("=")
            key = key.strip()
            continued = value.endswith("\\")
            current.values[key] = value.strip().removesuffix("\\")
    return stanzas


def looks_like_conf(source: str) -> bool:
    return (
        re.search(r"^\[[^\]\n]+\]\s*$", source, re.MULTILINE) is not None
        and re.search(r"^\s*search\s*=", source, re.MULTILINE) is not None
    )


def _json(value: str | None) -> Any:
    if not value:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None


def read_savedsearches(path: str, source: str, ctx: ReadContext) -> Parsed:
    out = Parsed()
    for stanza in parse_conf(source):
        values = stanza.values
        if not (
            truthy(values.get("action.correlationsearch.enabled"))
            or "action.correlationsearch.label" in values
        ):
            out.skip_item(
                f"[{stanza.name}] is not a correlation search (support, baseline or response search)",
                Location(path, stanza.line),
            )
            continue
        out.rules.append(_conf_rule(path, stanza, ctx))
    return out


def _conf_rule(path: str, stanza: Stanza, ctx: ReadContext) -> Rule:
    values = stanza.values
    annotations = _json(values.get("action.correlationsearch.annotations"))
    mappings = _json(values.get("action.escu.mappings"))
    techniques = strings(get(annotations, "mitre_attack")) or strings(get(mappings, "mitre_attack"))
    label = values.get("action.correlationsearch.label") or stanza.name
    disabled = truthy(values.get("disabled"))
    status = (
        RuleStatus.DEPRECATED
        if "deprecated" in label.lower()
        else RuleStatus.DISABLED
        if disabled
        else RuleStatus.ENABLED
    )
    models = strings(_json(values.get("action.escu.data_models"))) or _DATAMODEL.findall(
        values.get("search", "")
    )
    reqs = _reqs(ctx, "datamodel", models)
    title = re.sub(r"^ESCU - (?:Deprecated - )?|\s*- Rule$", "", label)
    return Rule(
        format=RuleFormat.SPLUNK_CONF,
        location=Location(path, stanza.line),
        id=stanza.name,
        title=title,
        status=status,
        raw_status=f"disabled = {values['disabled']}" if "disabled" in values else None,
        severity=severity(values.get("action.notable.param.severity")),
        techniques=ctx.techniques(techniques),
        log_sources=reqs,
        platforms=_platforms(reqs),
        query=values.get("search", "").strip(),
    )
