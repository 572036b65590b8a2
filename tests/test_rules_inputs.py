"""Readers on small hand-written inputs: every shape of every format, and malformed files that must be reported
as skips (bad YAML with its line, wrong types, binary, empty, 50 MB, alias bomb), never crash."""

from __future__ import annotations

import json
from pathlib import Path

from detcov.attack import AttackKB, IdStatus
from detcov.rules import RuleFormat, RuleStatus, read_rules, sigma_logsource

SIGMA = """title: Encoded PowerShell
id: 11111111-2222-3333-4444-555555555555
status: experimental
tags:
    - attack.execution
    - attack.defense_evasion
    - attack.T1059.001
    - attack.t1086
    - attack.g0046
    - attack.s0002
    - car.2016-04-005
    - cve.2021-44228
    - attack.t1685.001
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        CommandLine|contains: ' -enc '
    condition: selection
level: high
"""


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_sigma_tags_and_ids(tmp_path: Path, kb18: AttackKB) -> None:
    rs = read_rules(write(tmp_path, "r.yml", SIGMA), kb18)
    (rule,) = rs.rules
    by_id = {r.id: r for r in rule.techniques}
    assert set(by_id) == {"T1059.001", "T1086", "T1685.001"}  # groups, software, car, cve never leak in
    assert by_id["T1086"].status is IdStatus.REVOKED and by_id["T1086"].current == "T1059.001"
    assert by_id["T1685.001"].status is IdStatus.CROSSWALKED  # a v19 id: counted under its v18 equivalent
    assert rule.technique_ids == ("T1059.001", "T1562.002")
    assert rule.tactics == ("execution", "defense-evasion")  # underscore legacy tag folded
    assert rule.status is RuleStatus.EXPERIMENTAL and rule.severity == "high"


def test_sigma_collection(tmp_path: Path, kb18: AttackKB) -> None:
    text = """action: global
title: Whoami from two sources
status: test
tags:
    - attack.t1033
detection:
    selection:
        CommandLine|contains: whoami
    condition: selection
---
logsource:
    product: windows
    category: process_creation
---
logsource:
    product: linux
    service: auditd
"""
    rs = read_rules(write(tmp_path, "c.yml", text), kb18)
    assert len(rs) == 2 and rs.files[0].rules == 2
    assert [r.platforms for r in rs.rules] == [("Windows",), ("Linux",)]
    assert all(r.technique_ids == ("T1033",) for r in rs.rules)
    assert [r.location.line for r in rs.rules] == [11, 15]


def test_sigma_logsource_mapping(kb_any: AttackKB) -> None:
    need = sigma_logsource(kb_any, "windows", "process_creation")
    assert kb_any.data_component("Process Creation").stix_id in need.components  # type: ignore[union-attr]
    assert need.platforms == ("Windows",)
    assert sigma_logsource(kb_any, "aws", None, "cloudtrail").device_types == {"aws-cloudtrail"}
    assert not sigma_logsource(kb_any, "nosuchproduct", "nosuchcategory").mapped


def test_other_formats(tmp_path: Path, kb18: AttackKB) -> None:
    write(tmp_path, "escu.yml", "name: X\nid: e1\nstatus: production\ndata_source:\n- Sysmon EventID 1 AND Sysmon "
          "EventID 11\nsearch: '| tstats count'\ntags:\n  mitre_attack_id:\n  - T1059\n")
    write(tmp_path, "sentinel_no_ext", "id: s1\nname: S\nseverity: High\nrequiredDataConnectors:\n  dataTypes:\n"
          "    - CommonSecurityLog (Cisco)\ntactics:\n  - CredentialAccess\nrelevantTechniques:\n  - T1110\n"
          "query: |\n  CommonSecurityLog\n  | take 1\n")
    arm = {"resources": [{"type": "Microsoft.OperationalInsights/workspaces/providers/alertRules",
                          "name": "[concat(parameters('w'),'/Microsoft.SecurityInsights/abc')]",
                          "properties": {"displayName": "ARM rule", "enabled": False, "query": "SigninLogs | take 1",
                                         "tactics": ["InitialAccess"], "techniques": ["T1078"],
                                         "subTechniques": ["T1078.004"]}},
                         {"type": "Microsoft.Resources/other", "properties": {}}]}
    write(tmp_path, "arm.json", json.dumps(arm))
    saved = {"type": "security-rule", "id": "so1", "attributes": {"name": "K", "enabled": True, "type": "query",
             "rule_id": "k1", "index": ["winlogbeat-*"], "threat": [{"framework": "MITRE ATT&CK",
             "tactic": {"id": "TA0002"}, "technique": [{"id": "T1059", "subtechnique": [{"id": "T1059.003"}]}]}]}}
    write(tmp_path, "export.ndjson", json.dumps(saved) + "\n" + json.dumps({"exported_count": 1}) + "\n")
    write(tmp_path, "inv.csv", "Use case;MITRE ID;State;Log source\nUC-1;T1003.001, t1003;enabled;sysmon|edr\n"
          "UC-2;none yet;retired;\n")
    rs = read_rules([tmp_path], kb18)
    by_format = {r.format: r for r in rs.rules}
    escu = by_format[RuleFormat.SPLUNK_ESCU]
    assert len(escu.log_sources) == 1 and len(escu.log_sources[0].needs) == 2  # compound AND: both needed
    sentinel = by_format[RuleFormat.SENTINEL_YAML]
    assert sentinel.log_sources[0].value == "CommonSecurityLog" and sentinel.tactics == ("credential-access",)
    arm_rule = by_format[RuleFormat.SENTINEL_ARM]
    assert arm_rule.status is RuleStatus.DISABLED and arm_rule.technique_ids == ("T1078", "T1078.004")
    kibana = by_format[RuleFormat.KIBANA_JSON]
    assert kibana.technique_ids == ("T1059", "T1059.003") and kibana.tactics == ("execution",)
    arm_file = next(f for f in rs.files if f.path.endswith("arm.json"))
    assert arm_file.rules == 1 and arm_file.items_skipped == 1
    csv_rules = [r for r in rs.rules if r.format is RuleFormat.CSV]
    assert len(csv_rules) == 2
    assert csv_rules[0].technique_ids == ("T1003.001", "T1003") and csv_rules[1].status is RuleStatus.DEPRECATED
    assert not csv_rules[1].techniques and csv_rules[1].notes


def test_csv_custom_columns(tmp_path: Path, kb18: AttackKB) -> None:
    path = write(tmp_path, "x.csv", "Ref,Attack pattern\nA-1,T1021.001\n")
    assert read_rules(path, kb18).files[0].skipped  # no known technique / name column
    rs = read_rules(path, kb18, csv_columns={"id": "Ref", "techniques": "Attack pattern"})
    assert [r.technique_ids for r in rs.rules] == [("T1021.001",)]


def test_malformed_files_are_reported(tmp_path: Path, kb18: AttackKB) -> None:
    write(tmp_path, "bad.yml", "title: x\ndetection:\n  sel: [unclosed\n  condition: sel\n")
    write(tmp_path, "types.yml", "title: [1, 2]\nid: 7\ntags: 5\nlogsource: text\nstatus: {a: 1}\n"
          "detection: {condition: x}\nlevel: [high]\n")
    write(tmp_path, "binary.yml", b"\x00\x01\x02\xffPK\x03\x04" * 100)
    write(tmp_path, "empty.yml", "")
    write(tmp_path, "blank.toml", "   \n\n")
    write(tmp_path, "latin1.yml", "title: caf\xe9\n".encode("latin-1"))
    lol = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9))
    write(tmp_path, "lol.yml", "title: laughs\nlogsource: {product: windows}\ndetection: {condition: x}\n" + lol)
    big = tmp_path / "big.yml"
    with big.open("wb") as fh:
        fh.write(b"title: big\n")
        fh.truncate(50 * 1024 * 1024)
    write(tmp_path, "bad.toml", "[rule\nname = 1")
    write(tmp_path, "bad.json", "{not json")
    write(tmp_path, "rules.xlsx", b"PK\x03\x04 not really")
    write(tmp_path, "README.md", "# rules\n")
    rs = read_rules([tmp_path], kb18)
    reasons = {Path(f.path).name: f.skipped for f in rs.files}
    assert reasons["bad.yml"] is not None and reasons["bad.yml"].startswith("malformed YAML at line 4")
    assert reasons["types.yml"] is None  # wrong types: read what can be read
    assert reasons["binary.yml"] == "binary file: not a text file"
    assert reasons["empty.yml"] == "empty file" and reasons["blank.toml"] == "empty file"
    assert (reasons["latin1.yml"] or "").startswith("not UTF-8")
    assert "alias bomb" in (reasons["lol.yml"] or "")
    assert (reasons["big.yml"] or "").startswith("too large")
    assert (reasons["bad.toml"] or "").startswith("malformed TOML")
    assert (reasons["bad.json"] or "").startswith("malformed JSON")
    assert (reasons["rules.xlsx"] or "").startswith("unsupported format")
    assert (reasons["README.md"] or "").startswith("not a rule")
    (typed,) = rs.rules
    assert typed.id == "7" and typed.title == "7" and not typed.techniques and typed.log_sources == ()
    assert len(rs.files) == 12 and rs.files_parsed == 1


def test_missing_path_is_an_issue(tmp_path: Path, kb18: AttackKB) -> None:
    rs = read_rules([tmp_path / "nope"], kb18)
    assert len(rs.files) == 0 and rs.issues and "no such file" in rs.issues[0].message
