"""Write a rule pack: one file per converted rule in the SIEM's import format, plus an index.

* Splunk: ``rules/NN-<slug>.conf`` (one savedsearches.conf stanza each, ES correlation search with the ATT&CK
  annotations) and ``savedsearches.conf`` with all of them;
* Elastic: ``rules/NN-<slug>.ndjson`` (one detection-engine rule per line, as Kibana's rule import takes) and
  ``rules.ndjson`` with all of them;
* Sentinel: ``rules/NN-<slug>.yaml`` (analytic-rule YAML, the Azure-Sentinel repository shape);
* always ``index.csv`` and ``index.md``: technique → rule → why, the log source, the pipeline used, and the
  backend's reason for every rule that could not be converted (listed, never dropped).

Every rule is written disabled (``disabled = 1`` / ``enabled: false``): a suggestion to review, tune and
switch on. Sigma rules are under the Detection Rule License 1.1; each file names its source rule and author.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from detcov.attack import AttackKB
from detcov.csvsafe import csv_text
from detcov.fileio import atomic_write_text, make_folder
from detcov.rulepack.model import Candidate, Converted, Target
from detcov.rulepack.scope import SplunkFeed

LICENSE_NOTE = "Sigma rule {id} by {author} (SigmaHQ, Detection Rule License 1.1)"
SPLUNK_SEVERITY = {"informational": 2, "low": 3, "medium": 4, "high": 5, "critical": 6}
ELASTIC_RISK = {"informational": 21, "low": 21, "medium": 47, "high": 73, "critical": 99}
SENTINEL_SEVERITY = {"informational": "Informational", "low": "Low", "medium": "Medium", "high": "High",
                     "critical": "High"}
ELASTIC_INDEX = {
    "windows": ["winlogbeat-*", "logs-windows.*", "logs-system.*", "logs-endpoint.events.*"],
    "linux": ["auditbeat-*", "logs-auditd_manager.*", "logs-endpoint.events.*"],
    "macos": ["logs-endpoint.events.*"],
}
EXTENSION = {Target.SPLUNK: "conf", Target.ELASTIC: "ndjson", Target.ELASTIC_ESQL: "ndjson",
             Target.SENTINEL: "yaml"}
COMBINED = {Target.SPLUNK: "savedsearches.conf", Target.ELASTIC: "rules.ndjson",
            Target.ELASTIC_ESQL: "rules.ndjson"}
INDEX_COLUMNS = ("rank", "techniques", "technique_names", "gap_weight", "priority", "sigma_id", "title",
                 "sigma_status", "level", "kind", "log_source", "runs_on", "reach", "feed", "converted", "pipeline",
                 "file", "reason", "why", "newer_attack_ids")
# Splunk ES security domains (the notable's `security_domain`), by Sigma logsource.
ES_DOMAINS = ("access", "endpoint", "network", "threat", "identity", "audit")
_NETWORK = {"network_connection", "dns_query", "dns", "firewall", "proxy", "webserver", "zeek"}
_ACCESS_SERVICES = {"security", "signinlogs", "okta", "sshd", "auth", "vpn"}
_AUDIT_SERVICES = {"auditlogs", "activitylogs", "cloudtrail", "audit", "exchange", "sharepoint", "gcp.audit"}
RANKING_RULE = ("Ranking, per gap technique: behaviour rules before single-tool signatures (hack tool, PUA, "
                "malware, antivirus verdicts); then greater reach (share of the hosts on the rule's platforms in "
                "the system groups where it would be healthy); then Sigma status, level and fewer false-positive "
                "notes. Rounds spread the pack over the gaps by threat weight.")
Feeds = Mapping[str, SplunkFeed]


def slug(title: str, limit: int = 60) -> str:
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].rstrip("-") or "rule"


def file_name(c: Converted) -> str:
    return f"{c.candidate.rank:02d}-{slug(c.candidate.rule.title)}.{EXTENSION[c.target]}"


def description(c: Candidate) -> str:
    text = c.extras.description or c.rule.title
    source = LICENSE_NOTE.format(id=c.sigma_id, author=c.extras.author or "unknown author")
    return f"{text} Suggested by detcov for {', '.join(c.techniques)}. Source: {source}."


# ----- ATT&CK blocks ----------------------------------------------------------------------------------------
def tactic_names(kb: AttackKB, techniques: Sequence[str]) -> list[str]:
    """Tactic names of the techniques, in matrix order (``Defense Evasion``)."""
    shortnames = {s for tid in techniques if (t := kb.technique(tid)) for s in t.tactics}
    return [tac.name for tac in kb.tactics if tac.shortname in shortnames]


def elastic_threat(kb: AttackKB, techniques: Sequence[str]) -> list[dict[str, Any]]:
    """Elastic's ``threat`` array: one entry per tactic, techniques with their sub-techniques nested."""
    base = "https://attack.mitre.org"
    out: list[dict[str, Any]] = []
    for tac in kb.tactics:
        entries: dict[str, dict[str, Any]] = {}
        for tid in techniques:
            tech = kb.technique(tid)
            if tech is None or tac.shortname not in tech.tactics:
                continue
            parent = kb.technique(tech.parent) if tech.parent else tech
            if parent is None:
                continue
            entry = entries.setdefault(parent.id, {
                "id": parent.id, "name": parent.name, "reference": f"{base}/techniques/{parent.id}/"})
            if tech.parent:
                entry.setdefault("subtechnique", []).append({
                    "id": tech.id, "name": tech.name,
                    "reference": f"{base}/techniques/{tech.id.replace('.', '/')}/"})
        if entries:
            out.append({"framework": "MITRE ATT&CK",
                        "tactic": {"id": tac.id, "name": tac.name, "reference": f"{base}/tactics/{tac.id}/"},
                        "technique": list(entries.values())})
    return out


# ----- one rule per format ----------------------------------------------------------------------------------
def _conf_value(value: str) -> str:
    """A savedsearches.conf value: line breaks become ``\\`` continuations."""
    return " \\\n".join(value.replace("\r", "").split("\n"))


def _stanza_name(title: str) -> str:
    return " ".join(title.replace("[", "(").replace("]", ")").split())


def security_domain(c: Candidate) -> str:
    """The ES security domain of a rule's events: network, access (logons, authentication), audit (cloud and
    SaaS audit trails), threat (antivirus verdicts), else endpoint."""
    x = c.extras
    product, category, service = ((v or "").lower() for v in (x.product, x.category, x.service))
    if category == "antivirus":
        return "threat"
    if category in _NETWORK or product in _NETWORK:
        return "network"
    if service in _AUDIT_SERVICES:
        return "audit"
    if service in _ACCESS_SERVICES:
        return "access"
    return "endpoint"


def splunk_search(c: Converted, feeds: Feeds) -> str:
    """The converted query, scoped to the index and sourcetype the pipeline's device writes to."""
    feed = feeds.get(c.device_type or "")
    return f"{feed.spl} {c.query}" if feed else c.query


def splunk_stanza(c: Converted, kb: AttackKB, feeds: Feeds | None = None) -> str:
    """An ES correlation search that creates a notable (``action.notable = 1``) in the rule's security domain."""
    cand = c.candidate
    name = _stanza_name(f"detcov - {cand.rule.title} - Rule")
    annotations = {"mitre_attack": list(cand.techniques), "detcov": [f"sigma:{cand.sigma_id}",
                                                                      f"log source: {cand.log_source}"]}
    severity = cand.rule.severity if cand.rule.severity in SPLUNK_SEVERITY else "medium"
    lines = [
        f"[{name}]",
        f"description = {_conf_value(description(cand))}",
        f"search = {_conf_value(splunk_search(c, feeds or {}))}",
        "disabled = 1",
        "enableSched = 1",
        "cron_schedule = */30 * * * *",
        "dispatch.earliest_time = -35m",
        "dispatch.latest_time = now",
        "counttype = number of events",
        "relation = greater than",
        "quantity = 0",
        f"alert.severity = {SPLUNK_SEVERITY.get(cand.rule.severity or '', 4)}",
        "action.correlationsearch.enabled = 1",
        f"action.correlationsearch.label = {name}",
        f"action.correlationsearch.annotations = {json.dumps(annotations)}",
        "action.notable = 1",
        f"action.notable.param.rule_title = {name}",
        f"action.notable.param.rule_description = {_conf_value(cand.rule.title)}",
        f"action.notable.param.security_domain = {security_domain(cand)}",
        f"action.notable.param.severity = {severity}",
    ]
    return "\n".join(lines) + "\n"


def elastic_rule(c: Converted, kb: AttackKB) -> dict[str, Any]:
    cand = c.candidate
    level = cand.rule.severity or "medium"
    rule: dict[str, Any] = {
        "rule_id": cand.sigma_id,
        "name": cand.rule.title,
        "description": description(cand),
        "risk_score": ELASTIC_RISK.get(level, 47),
        "severity": "low" if level == "informational" else level,
        "enabled": False,
        "interval": "5m",
        "from": "now-6m",
        "max_signals": 100,
        "version": 1,
        "author": [cand.extras.author or "SigmaHQ"],
        "license": "DRL 1.1",
        "false_positives": list(cand.extras.falsepositives),
        "references": list(cand.extras.references),
        "tags": ["Sigma", "detcov suggestion", *(f"Log Source: {cand.log_source}",)],
        "threat": elastic_threat(kb, cand.techniques),
        "query": c.query,
    }
    if c.target is Target.ELASTIC_ESQL:
        rule.update(type="esql", language="esql")
    else:
        product = (cand.extras.product or "").lower()
        rule.update(type="query", language="lucene", index=ELASTIC_INDEX.get(product, ["logs-*"]))
    return rule


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings as ``|`` blocks (queries stay readable)."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def sentinel_id(sigma_id: str) -> str:
    try:
        return str(uuid.UUID(sigma_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sigma:{sigma_id}"))


def sentinel_rule(c: Converted, kb: AttackKB) -> str:
    cand = c.candidate
    doc = {
        "id": sentinel_id(cand.sigma_id),
        "name": cand.rule.title,
        "description": description(cand),
        "severity": SENTINEL_SEVERITY.get(cand.rule.severity or "", "Medium"),
        "requiredDataConnectors": [],
        "queryFrequency": "1h",
        "queryPeriod": "1h",
        "triggerOperator": "gt",
        "triggerThreshold": 0,
        "tactics": [name.title().replace(" ", "") for name in tactic_names(kb, cand.techniques)],
        "relevantTechniques": list(cand.techniques),
        "query": c.query.rstrip() + "\n",
        "kind": "Scheduled",
        "version": "1.0.0",
        "enabled": False,
        "tags": ["Sigma", "detcov suggestion"],
    }
    return yaml.dump(doc, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=120)


def render(c: Converted, kb: AttackKB, feeds: Feeds | None = None) -> str:
    """The text of one converted rule's file."""
    if c.target is Target.SPLUNK:
        return splunk_stanza(c, kb, feeds)
    if c.target is Target.SENTINEL:
        return sentinel_rule(c, kb)
    return json.dumps(elastic_rule(c, kb), ensure_ascii=False) + "\n"


# ----- the pack ---------------------------------------------------------------------------------------------
def write_pack(converted: Sequence[Converted], out_dir: str | Path, target: Target | str,
               kb: AttackKB, feeds: Feeds | None = None) -> list[Path]:
    """Write the pack under ``out_dir`` (created); return the files written. ``feeds``: per device type, the
    Splunk index/sourcetype of its events (:func:`detcov.rulepack.scope.splunk_feeds`)."""
    goal = Target(target)
    out = Path(out_dir)
    make_folder(out / "rules")
    written: list[Path] = []
    texts: list[str] = []
    for c in converted:
        if c.target is not goal:
            raise ValueError(f"{c.candidate.rule.title}: converted for {c.target.value}, not {goal.value}")
        if not c.ok:
            continue
        text = render(c, kb, feeds)
        path = out / "rules" / file_name(c)
        atomic_write_text(path, text)
        written.append(path)
        texts.append(text)
    if goal in COMBINED:
        combined = out / COMBINED[goal]
        atomic_write_text(combined, ("\n" if goal is Target.SPLUNK else "").join(texts))
        written.append(combined)
    for name, body in (("index.csv", index_csv(converted, kb, feeds)),
                       ("index.md", index_md(converted, kb, goal, feeds))):
        atomic_write_text(out / name, body)
        written.append(out / name)
    return written


def _feed_text(c: Converted, feeds: Feeds | None) -> str:
    feed = (feeds or {}).get(c.device_type or "")
    return f"{feed.spl} ({feed.origin})" if feed and c.target is Target.SPLUNK else ""


def index_rows(converted: Sequence[Converted], kb: AttackKB, feeds: Feeds | None = None) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for c in converted:
        cand = c.candidate
        names = [t.name if (t := kb.technique(tid)) else tid for tid in cand.techniques]
        runs_on = c.groups or cand.groups
        rows.append({
            "rank": str(cand.rank), "techniques": " ".join(cand.techniques), "technique_names": "; ".join(names),
            "gap_weight": f"{cand.weight:.3f}", "priority": f"{cand.priority:.3f}", "sigma_id": cand.sigma_id,
            "title": cand.rule.title, "sigma_status": cand.rule.raw_status or "", "level": cand.rule.severity or "",
            "kind": "tool signature" if cand.signature else "behaviour", "log_source": cand.log_source,
            "runs_on": "; ".join(runs_on), "reach": f"{cand.reach:.3f}" if cand.groups else "",
            "feed": _feed_text(c, feeds), "converted": "yes" if c.ok else "no", "pipeline": c.pipeline,
            "file": f"rules/{file_name(c)}" if c.ok else "", "reason": c.error, "why": cand.why,
            "newer_attack_ids": "; ".join(n.note for n in cand.newer_ids),
        })
    return rows


def index_csv(converted: Sequence[Converted], kb: AttackKB, feeds: Feeds | None = None) -> str:
    rows = index_rows(converted, kb, feeds)
    return csv_text(INDEX_COLUMNS, ([row.get(c, "") for c in INDEX_COLUMNS] for row in rows))


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def index_md(converted: Sequence[Converted], kb: AttackKB, target: Target, feeds: Feeds | None = None) -> str:
    rows = index_rows(converted, kb, feeds)
    done = [r for r in rows if r["converted"] == "yes"]
    lines = [
        f"# detcov rule pack: {target.language}",
        "",
        f"{len(rows)} Sigma rules suggested for the gaps; {len(done)} converted, {len(rows) - len(done)} not "
        "converted (listed below with the backend's reason). Every rule is written disabled: review, tune "
        "the false positives, then enable it.",
        "",
        RANKING_RULE + " A rule is suggested only for the system groups where its log source is collected; "
        "`runs on` lists them.",
        "",
        "| # | technique | rule | kind | level | runs on | search scope | file | why it fits this bank |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['rank']} | {_cell(r['techniques'])} {_cell(r['technique_names'])} | {_cell(r['title'])} "
        f"(`{r['sigma_id']}`, {r['sigma_status']}) | {r['kind']} | {r['level']} | {_cell(r['runs_on'])} | "
        f"{_cell(r['feed'] or r['pipeline'])} | {r['file']} | {_cell(r['why'])} |"
        for r in done
    ]
    failed = [r for r in rows if r["converted"] != "yes"]
    if failed:
        lines += ["", "## Not converted", "", "| # | technique | rule | reason |", "|---|---|---|---|"]
        lines += [f"| {r['rank']} | {_cell(r['techniques'])} | {_cell(r['title'])} (`{r['sigma_id']}`) | "
                  f"{_cell(r['reason'])} |" for r in failed]
    lines += ["", "Rules: SigmaHQ contributors, Detection Rule License 1.1 (https://github.com/SigmaHQ/Detection-"
              "Rule-License); each rule file names its source rule and author.", ""]
    return "\n".join(lines)
