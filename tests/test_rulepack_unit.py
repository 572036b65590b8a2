"""Rule pack on hand-built Sigma rules, gaps and telemetry: filters, ranking, newer ATT&CK ids, conversion
failures kept with the backend's reason, and the pack files (read back with detcov's own rule readers)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from detcov.attack import AttackKB
from detcov.datasources.telemetry import CollectedTelemetry
from detcov.rulepack import Candidate, Target, convert, select_candidates, write_pack
from detcov.rulepack.newer import counted_rule, newer_id
from detcov.rulepack.pack import slug
from detcov.rulepack.scope import GroupView
from detcov.rulepack.select import fp_rank
from detcov.rules import Rule, read_rules

SIGMA = """title: {title}
id: {id}
status: {status}
level: {level}
author: Test Author
description: A hand-written test rule.
tags: [{tags}]
logsource: {{{logsource}}}
detection:
  sel:
    CommandLine|contains: '{needle}'
  condition: sel
falsepositives: [{fps}]
"""
WIN_PROC = "product: windows, category: process_creation"


@dataclass(frozen=True)
class Gap:
    technique: str
    name: str
    gap: str
    weight: float
    priority: float


def _rule(folder: Path, n: int, *, status: str = "test", level: str = "high", tags: str = "attack.t1003.001",
          logsource: str = WIN_PROC, fps: str = "Unknown", title: str | None = None) -> Path:
    path = folder / f"r{n:02d}.yml"
    path.write_text(SIGMA.format(title=title or f"Rule {n}", id=f"00000000-0000-4000-8000-{n:012d}",
                                 status=status, level=level, tags=tags, logsource=logsource, fps=fps,
                                 needle=f"needle{n}"), encoding="utf-8")
    return path


def _telemetry(kb: AttackKB, devices: frozenset[str] = frozenset({"sysmon", "windows-security"})
               ) -> CollectedTelemetry:
    names = ("Process Creation", "Process Access", "Command Execution", "File Creation")
    windows = frozenset(dc.stix_id for n in names if (dc := kb.data_component(n)) is not None)
    return CollectedTelemetry({"Windows": windows}, {}, devices)


def _gap(kb: AttackKB, tid: str, weight: float, gap: str = "rule-gap") -> Gap:
    technique = kb.technique(tid)
    assert technique is not None
    return Gap(tid, technique.name, gap, weight, weight)


def _read(kb: AttackKB, folder: Path) -> list[Rule]:
    return list(read_rules(folder, kb, "sigma").rules)


def test_ranking_status_level_and_false_positives(tmp_path: Path, kb18: AttackKB) -> None:
    _rule(tmp_path, 1, status="experimental", level="critical")
    _rule(tmp_path, 2, status="test", level="medium")
    _rule(tmp_path, 3, status="stable", level="low")
    _rule(tmp_path, 4, status="test", level="high", fps="Legitimate admin scripts")
    _rule(tmp_path, 5, status="test", level="high", fps="Unlikely")
    got = select_candidates(kb18, [_gap(kb18, "T1003.001", 1.0)], _telemetry(kb18), [], _read(kb18, tmp_path),
                            top=10, per_technique=10)
    assert [c.rule.title for c in got] == ["Rule 3", "Rule 5", "Rule 4", "Rule 2", "Rule 1"]
    assert [c.rank for c in got] == [1, 2, 3, 4, 5]
    assert "Legitimate admin scripts" in got[2].why and "weight 1.00" in got[0].why
    assert fp_rank(["Unlikely"]) < fp_rank(["Unknown"]) < fp_rank(["Legitimate use"])


def test_filters_deployed_log_source_and_gap_class(tmp_path: Path, kb18: AttackKB) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _rule(corpus, 1)  # deployed by id
    _rule(corpus, 2, title="Already There")  # deployed by title (another format keeps the title)
    _rule(corpus, 3, logsource="product: linux, category: process_creation", tags="attack.t1003.001")
    _rule(corpus, 4, logsource="product: opencanary, category: application")  # generic category only
    _rule(corpus, 5, status="deprecated")
    _rule(corpus, 6, tags="attack.t1059.001")  # detected technique, not a gap to fill
    _rule(corpus, 7, tags="attack.t1003.001, attack.t1059.001")  # the only one that qualifies
    deployed = tmp_path / "deployed"
    deployed.mkdir()
    _rule(deployed, 1, title="Renamed by the SOC")
    _rule(deployed, 8, title="already there")
    gaps = [_gap(kb18, "T1003.001", 0.9), _gap(kb18, "T1059.001", 0.8, gap="detected")]
    got = select_candidates(kb18, gaps, _telemetry(kb18), _read(kb18, deployed), _read(kb18, corpus), top=10)
    assert [c.rule.title for c in got] == ["Rule 7"]
    assert got[0].techniques == ("T1003.001",)
    assert got[0].log_source == "product:windows category:process_creation"
    assert select_candidates(kb18, gaps, _telemetry(kb18, frozenset({"edr"})), [], _read(kb18, corpus)) != []
    assert select_candidates(kb18, gaps, _telemetry(kb18, frozenset({"firewall"})), [], _read(kb18, corpus)) == []


def test_round_robin_spreads_over_gaps_and_top_cuts(tmp_path: Path, kb18: AttackKB) -> None:
    for n in range(1, 4):
        _rule(tmp_path, n, tags="attack.t1003.001")
    for n in range(4, 7):
        _rule(tmp_path, n, tags="attack.t1059.001")
    gaps = [_gap(kb18, "T1003.001", 0.5), _gap(kb18, "T1059.001", 0.9, gap="broken")]
    got = select_candidates(kb18, gaps, _telemetry(kb18), [], _read(kb18, tmp_path), top=3, per_technique=2)
    assert [c.techniques for c in got] == [("T1059.001",), ("T1003.001",), ("T1059.001",)]
    capped = select_candidates(kb18, gaps, _telemetry(kb18), [], _read(kb18, tmp_path), top=50, per_technique=2)
    assert len(capped) == 4


def test_newer_ids_are_counted_through_the_crosswalk(tmp_path: Path, kb_any: AttackKB) -> None:
    _rule(tmp_path, 1, tags="attack.t1685, attack.t1686.002")
    (raw,) = _read(kb_any, tmp_path)
    assert raw.technique_ids == ("T1562.001",)  # counted already by the reader (the one id normaliser)
    counted, newer = counted_rule(raw, kb_any)
    assert counted is raw
    assert {(n.id, n.loaded) for n in newer} == {("T1685", "T1562.001"), ("T1686.002", None)}
    assert newer_id(kb_any.resolve("T1059.001"), kb_any) is None
    assert newer_id(kb_any.resolve("T1599.999"), kb_any) is None  # plain unknown id: not from a newer release
    got = select_candidates(kb_any, [_gap(kb_any, "T1562.001", 1.0)], _telemetry(kb_any), [], [raw])
    assert len(got) == 1 and "tagged T1685" in got[0].why and "counted as T1562.001" in got[0].why


def _candidates(tmp_path: Path, kb: AttackKB) -> list[Candidate]:
    _rule(tmp_path, 1, title="Proc [one] | pipes", tags="attack.t1003.001, attack.t1059.001")
    _rule(tmp_path, 2, title="AV signature", logsource="category: antivirus", level="critical")
    gaps = [_gap(kb, "T1003.001", 1.0), _gap(kb, "T1059.001", 0.7)]
    tel = _telemetry(kb, frozenset({"sysmon", "antivirus"}))
    tel = CollectedTelemetry({**tel.components, "*": frozenset(
        dc.stix_id for n in ("Application Log Content",) if (dc := kb.data_component(n)))}, {}, tel.device_types)
    got = select_candidates(kb, gaps, tel, [], _read(kb, tmp_path), top=5)
    assert [c.rule.title for c in got] == ["AV signature", "Proc [one] | pipes"]
    return got


def test_sentinel_failure_is_listed_with_reason(tmp_path: Path, kb18: AttackKB) -> None:
    corpus, out = tmp_path / "c", tmp_path / "pack"
    corpus.mkdir()
    converted = convert(_candidates(corpus, kb18), "sentinel")
    av, proc = converted
    assert not av.ok and "table" in av.error and av.query == ""
    assert proc.ok and proc.query.startswith("DeviceProcessEvents") and "needle1" in proc.query
    no_edr = convert([proc.candidate], "sentinel", _telemetry(kb18, frozenset({"windows-security"})))
    assert no_edr[0].pipeline == "azure_monitor" and no_edr[0].query.startswith("SecurityEvent")
    splunk = convert([proc.candidate], "splunk", _telemetry(kb18, frozenset({"windows-security"})))
    assert "EventCode=4688" in splunk[0].query and "Sysmon" not in splunk[0].query
    assert "Sysmon" in convert([proc.candidate], "splunk", _telemetry(kb18))[0].query
    files = write_pack(converted, out, Target.SENTINEL, kb18)
    assert [p.name for p in files if p.parent.name == "rules"] == [f"02-{slug(proc.candidate.rule.title)}.yaml"]
    rows = list(csv.DictReader((out / "index.csv").open(encoding="utf-8")))
    assert [(r["title"], r["converted"], bool(r["reason"])) for r in rows] == [
        ("AV signature", "no", True), ("Proc [one] | pipes", "yes", False)]
    index = (out / "index.md").read_text(encoding="utf-8")
    assert "## Not converted" in index and "AV signature" in index and "Proc [one] \\| pipes" in index
    doc = yaml.safe_load(files[0].read_text(encoding="utf-8"))
    assert doc["relevantTechniques"] == ["T1003.001", "T1059.001"] and doc["query"] == proc.query + "\n"
    assert set(doc["tactics"]) == {"CredentialAccess", "Execution"}
    (back,) = read_rules(files[0], kb18).rules
    assert back.technique_ids == ("T1003.001", "T1059.001") and back.format.family == "sentinel"


@pytest.mark.parametrize("target", ["splunk", "elastic", "elastic-esql"])
def test_pack_files_read_back(tmp_path: Path, kb18: AttackKB, target: str) -> None:
    corpus, out = tmp_path / "c", tmp_path / "pack"
    corpus.mkdir()
    converted = convert(_candidates(corpus, kb18), target)
    assert all(c.ok and c.query for c in converted)
    write_pack(converted, out, target, kb18)
    combined = out / ("savedsearches.conf" if target == "splunk" else "rules.ndjson")
    if target != "splunk":
        docs = [json.loads(line) for line in combined.read_text(encoding="utf-8").splitlines()]
        assert [d["rule_id"] for d in docs] == [c.candidate.sigma_id for c in converted]
        assert docs[1]["threat"][0]["technique"][0]["subtechnique"][0]["id"] in ("T1003.001", "T1059.001")
        assert docs[0]["language"] == ("esql" if target == "elastic-esql" else "lucene")
    back = read_rules(out / "rules", kb18).rules
    assert len(back) == len(converted)
    for conv in converted:  # Elastic nests a sub-technique under its parent: the parent is read too
        (rule,) = [r for r in back if conv.candidate.rule.title.split(" [")[0] in r.title]
        wanted = set(conv.candidate.techniques)
        assert wanted <= set(rule.technique_ids) <= wanted | {t.split(".")[0] for t in wanted}
    assert len(read_rules(combined, kb18).rules) == len(converted)


def test_bad_target_is_refused(tmp_path: Path, kb18: AttackKB) -> None:
    with pytest.raises(ValueError):
        convert([], "qradar")


def _group(kb: AttackKB, name: str, hosts: int, devices: frozenset[str]) -> GroupView:
    return GroupView(name, ("Windows",), hosts, _telemetry(kb, devices),
                     {d: _telemetry(kb, frozenset({d})) for d in devices})


def test_behaviour_before_signature_then_reach(tmp_path: Path, kb18: AttackKB) -> None:
    _rule(tmp_path, 1, title="HackTool - Mimikatz Execution", status="stable", level="critical")
    _rule(tmp_path, 2, title="LSASS Access From Unusual Process", status="test", level="medium",
          logsource="product: windows, category: process_access")
    _rule(tmp_path, 3, title="LSASS Dump Via Comsvcs", status="test", level="medium")
    groups = (_group(kb18, "Servers", 100, frozenset({"sysmon", "windows-security"})),
              _group(kb18, "Workstations", 900, frozenset({"windows-security"})))
    got = select_candidates(kb18, [_gap(kb18, "T1003.001", 1.0)], _telemetry(kb18), [], _read(kb18, tmp_path),
                            top=10, per_technique=10, groups=groups)
    titles = [c.rule.title for c in got]
    assert titles[-1] == "HackTool - Mimikatz Execution" and got[-1].signature  # stable + critical, still last
    proc, access = got[0], got[1]
    assert proc.rule.title == "LSASS Dump Via Comsvcs" and proc.reach == 1.0
    assert set(proc.groups) == {"Servers", "Workstations"}
    assert access.groups == ("Servers",) and access.reach == 0.1  # process access comes from Sysmon only
    assert "runs on Servers" in access.why and "10% of the hosts" in access.why
    # converted for Splunk, the 4688 pipeline reaches every group; Sysmon field names only the servers
    splunk = convert(got[:2], "splunk", _telemetry(kb18), groups=groups)
    assert splunk[0].pipeline.startswith("windows-audit") and set(splunk[0].groups) == {"Servers", "Workstations"}
    assert splunk[1].pipeline.startswith("sysmon") and splunk[1].groups == ("Servers",)
    # a group that collects nothing the rule needs is never a target
    blind = (_group(kb18, "Lab", 5, frozenset({"firewall"})),)
    assert select_candidates(kb18, [_gap(kb18, "T1003.001", 1.0)], _telemetry(kb18), [], _read(kb18, tmp_path),
                             groups=blind) == []


def test_group_views_read_the_scan_estate_so_a_silent_feed_targets_nothing(kb18: AttackKB) -> None:
    """The pack's groups come from the scope model (Estate.telemetry): a device whose feed to a SIEM was found
    silent by log-flow evidence feeds no rule there, while it still does on the SIEM where its logs flow."""
    from detcov.coverage.scope import build_estate
    from detcov.datasources.catalog import load_catalog
    from detcov.datasources.inventory import load_inventory
    from detcov.rulepack.scope import group_views
    from tests.conftest import REPO

    catalog = load_catalog()
    inventory = load_inventory(REPO / "examples" / "demo-bank" / "inventory.yaml", kb18, catalog)
    sysmon = "Sysmon (servers and SWIFT zone)"
    estate = build_estate(inventory, kb18, catalog, silent={(sysmon, "splunk"): "silent since 2026-11-01"})
    for siem in ("splunk", "elastic"):
        views = {g.name: g for g in group_views(estate, siem)}
        assert all(v.telemetry == estate.telemetry(name, siem) for name, v in views.items())  # the one home
        for name in ("Windows servers", "SWIFT zone"):
            assert ("sysmon" in views[name].device_types) is (siem == "elastic"), (siem, name)
            assert ("sysmon" in views[name].per_type) is (siem == "elastic")
    anywhere = {g.name: g for g in group_views(estate)}
    assert "sysmon" in anywhere["Windows servers"].device_types  # still reaches elastic
    assert anywhere["Windows servers"].per_type["sysmon"].device_types == frozenset({"sysmon"})
