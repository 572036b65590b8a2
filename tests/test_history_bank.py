"""A synthetic demo bank whose coverage improves every quarter: writes real scan folders (``summary.json`` +
``tables/*.csv``) for the history and report tests, and checks that its summaries agree with its own tables.

Scores come from a per-technique hash, with thresholds that rise each quarter, so every covered set of quarter
``n`` contains that of quarter ``n-1`` (monotonic improvement) without hard-coding any technique.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detcov.attack import AttackKB
from detcov.coverage.summary import (
    AttackInfo,
    GapItem,
    GroupKpi,
    Kpis,
    Ratio,
    Scope,
    Summary,
    TacticKpi,
    ValidationKpi,
)

QUARTERS = ("2025Q4", "2026Q1", "2026Q2", "2026Q3")
HOSTILE_TITLE = '<script>document.title="pwned"</script>'
HOSTILE_DEVICE = "<img src=x onerror=\"document.title='pwned'\">"
DEVICES = ("Sysmon on workstations", "Palo Alto NGFW", "Squid proxy", "CrowdStrike Falcon", "Zeek sensor",
           "Imperva WAF", "Active Directory DCs")
GROUPS = (("G0082", "APT38", 0.0, 0.6), ("G0046", "FIN7", 0.4, 1.0))
RULE_FORMATS = ("sigma", "splunk-escu", "elastic-toml", "sentinel-yaml", "defender-xdr", "csv")
TECH_COLUMNS = ("technique", "name", "tactics", "in_scope", "weight", "groups", "visibility", "detection",
                "prevention", "validated", "gap", "priority", "visibility_explanation", "detection_explanation",
                "prevention_explanation")


def u(tid: str, salt: str) -> float:
    """A stable pseudo-random number in [0, 1) per technique and purpose."""
    return int(hashlib.sha256(f"{salt}:{tid}".encode()).hexdigest()[:8], 16) / 2**32


def technique_row(tid: str, name: str, tactics: Sequence[str], step: int) -> dict[str, Any]:
    base, grade = u(tid, "cover"), u(tid, "grade")
    in_scope = u(tid, "scope") < 0.2
    visibility = 1 + int(grade * 4) if base < 0.35 + 0.15 * step else 0
    detection = 1 + int(grade * 5) if base < 0.2 + 0.15 * step else -1
    prevention = 1 + int(grade * 4) if u(tid, "block") < 0.1 + 0.1 * step else 0
    validated = ""
    if in_scope and u(tid, "test") < 0.1 * (step + 1):
        validated = "detected" if detection >= 1 else ("blocked" if prevention >= 1 else "missed")
    weight = round(1 + u(tid, "weight") * 4, 2) if in_scope else 0.0
    gap = ""
    if in_scope:
        gap = ("validated" if validated in ("detected", "blocked") else "detected" if detection >= 1
               else "rule-gap" if visibility >= 1 else "blind")
    return {"technique": tid, "name": name, "tactics": ";".join(tactics), "in_scope": in_scope, "weight": weight,
            "groups": 1 + int(u(tid, "weight") * 3) if in_scope else 0, "visibility": visibility,
            "detection": detection, "prevention": prevention, "validated": validated, "gap": gap,
            "priority": round(weight * (2 if gap == "blind" else 1), 2) if gap in ("blind", "rule-gap") else 0.0,
            "visibility_explanation": f"{visibility} from synthetic devices", "detection_explanation": "synthetic",
            "prevention_explanation": ""}


def ratio(rows: Sequence[dict[str, Any]], hit: Any) -> Ratio:
    scope = [r for r in rows if r["in_scope"]]
    covered = [r for r in scope if hit(r)]
    weight = sum(r["weight"] for r in scope) or 1.0
    return Ratio(covered=len(covered), total=len(scope), percent=round(100 * len(covered) / max(len(scope), 1), 1),
                 weighted_percent=round(100 * sum(r["weight"] for r in covered) / weight, 1))


HITS = {"visibility": lambda r: r["visibility"] >= 1, "detection": lambda r: r["detection"] >= 1,
        "blocking": lambda r: r["prevention"] >= 1, "validated": lambda r: r["validated"] in ("detected", "blocked")}


def rule_rows(rows: Sequence[dict[str, Any]], step: int, hostile: bool) -> list[dict[str, Any]]:
    detected = [r["technique"] for r in rows if r["in_scope"] and r["detection"] >= 1]
    out = []
    for i in range(8 + 4 * step):
        tid = detected[i % len(detected)]
        health, missing, status = "healthy", "", "enabled"
        if i == 1 and step < 2:
            health, missing = "missing-log-source", "WinEventLog:Sysmon"
        elif i == 2:
            health, status = "disabled", "disabled"
        elif i == 7 + 4 * step and step == 3:
            health, missing = "missing-log-source", "zeek:dns"
        title = f"Suspicious use of {tid}"
        out.append({"rule_id": f"R{i:03d}", "title": title, "format": RULE_FORMATS[i % len(RULE_FORMATS)],
                    "path": f"rules/r{i:03d}.yml", "status": status, "health": health, "techniques": tid,
                    "missing": missing})
    if hostile:  # third-party text that must show as text: a broken rule, so the report lists it
        out.append({"rule_id": "R999", "title": HOSTILE_TITLE, "format": "sigma", "path": "rules/evil.yml",
                    "status": "enabled", "health": "missing-log-source", "techniques": detected[0],
                    "missing": "<i>zeek:http</i>"})
    return out


def device_rows(step: int, hostile: bool) -> list[dict[str, Any]]:
    names = list(DEVICES[: 3 + step]) + ([HOSTILE_DEVICE] if hostile else [])
    return [{"device": n, "type": "edr" if "Falcon" in n else "firewall", "system_groups": "hq;branch",
             "siem": True, "blocking": "NGFW" in n or "WAF" in n,
             "quality": 0.3 if n == HOSTILE_DEVICE else round(0.4 + 0.1 * k, 2)} for k, n in enumerate(names)]


def summarise(kb: AttackKB, rows: list[dict[str, Any]], rules: list[dict[str, Any]],
              devices: list[dict[str, Any]], version: str | None) -> Summary:
    scope = [r for r in rows if r["in_scope"]]
    per_tactic = []
    for tactic in kb.tactics:
        mine = [r for r in scope if tactic.shortname in r["tactics"].split(";")]
        if mine:
            per_tactic.append(TacticKpi(
                tactic=tactic.id, name=tactic.name, techniques=len(mine),
                visibility=ratio(mine, HITS["visibility"]).percent, detection=ratio(mine, HITS["detection"]).percent,
                blocking=ratio(mine, HITS["blocking"]).percent,
                weighted_detection=ratio(mine, HITS["detection"]).weighted_percent))
    per_group = []
    for gid, name, lo, hi in GROUPS:
        mine = [r for r in scope if lo <= u(r["technique"], "group") < hi]
        per_group.append(GroupKpi(group=gid, name=name, techniques=len(mine),
                                  visibility=ratio(mine, HITS["visibility"]).percent,
                                  detection=ratio(mine, HITS["detection"]).percent,
                                  blocking=ratio(mine, HITS["blocking"]).percent))
    gaps = sorted((r for r in scope if r["gap"] in ("blind", "rule-gap")), key=lambda r: (-r["priority"],
                                                                                         r["technique"]))
    top = [GapItem(technique=r["technique"], name=r["name"], tactics=r["tactics"].split(";"), gap=r["gap"],
                   priority=r["priority"], weight=r["weight"], visibility=r["visibility"],
                   detection=r["detection"],
                   action="onboard Process Creation logs" if r["gap"] == "blind" else f"write a rule for {r['name']}")
           for r in gaps[:10]]
    health: dict[str, int] = {}
    for rule in rules:
        health[rule["health"]] = health.get(rule["health"], 0) + 1
    gap_counts: dict[str, int] = {}
    for r in scope:
        gap_counts[r["gap"]] = gap_counts.get(r["gap"], 0) + 1
    tested = [r for r in scope if r["validated"]]
    digest = hashlib.sha256
    return Summary(
        detcov_version="0.1.0", generated_at="2026-09-30T08:00:00+00:00",
        attack=AttackInfo(version=version, domain="enterprise-attack", sha256="0" * 64,
                          detection_model="analytics"),
        scope=Scope(institution="Demo Bank 示範銀行", profiles=["financial-sector"], groups=[g[0] for g in GROUPS],
                    techniques_in_scope=len(scope), platforms=["Windows", "Linux"], system_groups=["hq", "branch"],
                    devices=len(devices), rules=len(rules), rule_files=len(rules),
                    inventory_sha256=digest("|".join(d["device"] for d in devices).encode()).hexdigest(),
                    rules_sha256=digest("|".join(r["rule_id"] for r in rules).encode()).hexdigest()),
        kpis=Kpis(**{k: ratio(rows, hit) for k, hit in HITS.items()}),
        per_tactic=per_tactic, per_group=per_group, rule_health=health, gaps=gap_counts, top_gaps=top,
        data_quality_issues=[f"{d['device']}: quality {d['quality']:.2f} below 0.5" for d in devices
                             if d["quality"] < 0.5],
        validation=ValidationKpi(tests=len(tested), detected=sum(r["validated"] == "detected" for r in tested),
                                 blocked=sum(r["validated"] == "blocked" for r in tested),
                                 contradictions=sum(r["validated"] == "missed" and r["detection"] >= 1
                                                    for r in tested)),
        rollup_rule="max",
    )


def write_csv(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


def write_scan(out: Path, kb: AttackKB, step: int, *, hostile: bool = False, version: str | None = None,
               rename: dict[str, str] | None = None) -> Summary:
    """A scan folder of the demo bank at quarter ``step`` (0..3). ``rename`` writes some ids as older ATT&CK did."""
    rows = [technique_row(t.id, t.name, t.tactics, step) for t in kb.techniques()]
    for row in rows:
        row["technique"] = (rename or {}).get(row["technique"], row["technique"])
    rules, devices = rule_rows(rows, step, hostile), device_rows(step, hostile)
    summary = summarise(kb, rows, rules, devices, version or kb.version)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    write_csv(out / "tables" / "techniques.csv", rows, TECH_COLUMNS)
    write_csv(out / "tables" / "rules.csv", rules, list(rules[0]))
    write_csv(out / "tables" / "devices.csv", devices, list(devices[0]))
    recs = [{"step": i + 1, "kind": "data-source" if g.gap == "blind" else "rule", "target": g.action,
             "gain": g.weight, "techniques": g.technique} for i, g in enumerate(summary.top_gaps)]
    write_csv(out / "tables" / "recommendations.csv", recs, ["step", "kind", "target", "gain", "techniques"])
    return summary


# ----- the factory checks itself ---------------------------------------------------------------------------
def test_bank_improves_every_quarter(kb18: AttackKB, tmp_path: Path) -> None:
    summaries = [write_scan(tmp_path / q, kb18, i) for i, q in enumerate(QUARTERS)]
    for view in ("visibility", "detection", "blocking", "validated"):
        values = [getattr(s.kpis, view).weighted_percent for s in summaries]
        assert values == sorted(values) and values[0] < values[-1], (view, values)
    assert summaries[0].scope.techniques_in_scope == summaries[-1].scope.techniques_in_scope > 50
    assert [s.scope.devices for s in summaries] == [3, 4, 5, 6]


def test_bank_summary_matches_its_tables(kb18: AttackKB, tmp_path: Path) -> None:
    summary = write_scan(tmp_path / "scan", kb18, 2)
    with (tmp_path / "scan" / "tables" / "techniques.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["in_scope"] == "True"]
    assert summary.kpis.detection.covered == sum(int(r["detection"]) >= 1 for r in rows)
    assert summary.kpis.detection.total == len(rows) == summary.scope.techniques_in_scope
