"""The scope model: rule health per system group × SIEM × product, and the per-group effects on scores.

Each false-healthy class the expert review found has a hand-built case here: a rule must be healthy only where
its log source really reaches the SIEM it runs on, from a device of the right product, on a platform of the group.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from detcov.attack import AttackKB
from detcov.coverage.scope import Estate, build_estate
from detcov.datasources.catalog import load_catalog
from detcov.datasources.inventory import load_inventory
from detcov.rules import HealthOutcome, Rule, RuleHealth, assess, read_rules

pytestmark = pytest.mark.attack_real
DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo-bank"

GOOD = {"device_completeness": 5, "data_field_completeness": 4, "timeliness": 4, "consistency": 4, "retention": 5}


def _inventory(tmp_path: Path, kb: AttackKB, devices: list[dict[str, Any]], groups: list[dict[str, Any]] | None = None,
               siems: list[dict[str, Any]] | None = None) -> Estate:
    doc = {
        "version": 1, "file_type": "inventory", "name": "test bank",
        "siems": siems or [{"id": "splunk", "product": "splunk"}, {"id": "sentinel", "product": "sentinel"},
                           {"id": "elastic", "product": "elastic", "ml_jobs": ["other_job"]}],
        "system_groups": groups or [
            {"applicable_to": "Workstations", "platforms": ["Windows"], "hosts": 3000, "criticality": 3},
            {"applicable_to": "Servers", "platforms": ["Windows"], "hosts": 400, "criticality": 4},
            {"applicable_to": "Core banking", "platforms": ["Linux"], "hosts": 20, "criticality": 5},
            {"applicable_to": "Cloud", "platforms": ["Identity Provider", "SaaS", "Office Suite", "IaaS"],
             "criticality": 4},
        ],
        "devices": [{"data_quality": GOOD, "blocking": False, **d} for d in devices],
    }
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    catalog = load_catalog()
    return build_estate(load_inventory(path, kb, catalog), kb, catalog)


def _rule(tmp_path: Path, kb: AttackKB, name: str, text: str, siem: str, groups: tuple[str, ...] = ()) -> Rule:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    (rule,) = read_rules(path, kb).rules
    return replace(rule, siems=(siem,), applicable_to=groups or ("all",))


def _health(rule: Rule, kb: AttackKB, estate: Estate) -> RuleHealth:
    (health,) = assess([rule], kb, estate.health_scopes)
    return health


SIGMA = """title: {title}
status: stable
tags: [{tags}]
logsource: {{{logsource}}}
detection: {{sel: {{a: b}}, condition: sel}}
"""

EDR_MDE = {"name": "EDR", "type": "edr", "vendor": "Microsoft", "product": "Defender for Endpoint P2",
           "applicable_to": ["Workstations", "Servers"], "siem": ["splunk", "sentinel"]}
WINSEC = {"name": "WinSec", "type": "windows-security", "applicable_to": ["Workstations", "Servers"],
          "siem": ["splunk"], "settings": {"process-auditing": True, "command-line-auditing": True,
                                           "object-access-sacls": False, "filtering-platform-auditing": False}}
SYSMON_SERVERS = {"name": "Sysmon", "type": "sysmon", "applicable_to": ["Servers"], "siem": ["splunk"]}


def test_sysmon_only_rule_counts_where_sysmon_runs(tmp_path: Path, kb18: AttackKB) -> None:
    """T1055 named-pipe rule: Sysmon on servers only — healthy on servers, missing on 3,000 workstations."""
    estate = _inventory(tmp_path, kb18, [EDR_MDE, WINSEC, SYSMON_SERVERS])
    rule = _rule(tmp_path, kb18, "pipe.yml", SIGMA.format(title="pipe", tags="attack.t1055",
                                                          logsource="product: windows, category: pipe_created"),
                 "splunk")
    health = _health(rule, kb18, estate)
    assert health.outcome is HealthOutcome.HEALTHY and health.healthy_groups == ("Servers",)
    ws = health.in_group("Workstations")
    assert ws is not None and ws.outcome is HealthOutcome.MISSING_LOG_SOURCE
    assert "sysmon" in ws.detail and "Workstations has none" in ws.detail


ELASTIC_DEFEND = '''[metadata]
maturity = "production"
[rule]
name = "LSASS access via Elastic Defend"
rule_id = "00000000-0000-0000-0000-000000000001"
type = "eql"
severity = "high"
risk_score = 73
index = ["logs-endpoint.events.process-*"]
query = "process where true"
[[rule.threat]]
framework = "MITRE ATT&CK"
[[rule.threat.technique]]
id = "T1003"
name = "T1003"
reference = "https://attack.mitre.org/techniques/T1003/"
[rule.threat.tactic]
id = "TA0006"
name = "Credential Access"
reference = "https://attack.mitre.org/tactics/TA0006/"
'''


def test_elastic_defend_rule_needs_elastic_defend_not_any_edr(tmp_path: Path, kb18: AttackKB) -> None:
    mde = {**EDR_MDE, "siem": ["elastic"]}
    rule = _rule(tmp_path, kb18, "defend.toml", ELASTIC_DEFEND, "elastic")
    health = _health(rule, kb18, _inventory(tmp_path, kb18, [mde]))
    assert health.outcome is HealthOutcome.MISSING_LOG_SOURCE
    assert "needs Elastic Defend" in " ".join(health.missing)
    defend = {**mde, "vendor": "Elastic", "product": "Elastic Defend 8.15"}
    assert _health(rule, kb18, _inventory(tmp_path, kb18, [defend])).outcome is HealthOutcome.HEALTHY
    unknown = {**mde, "vendor": None, "product": None, "name": "Endpoint agent"}
    verdict = _health(rule, kb18, _inventory(tmp_path, kb18, [unknown]))
    assert verdict.outcome is HealthOutcome.UNVERIFIED and "product_id" in verdict.detail


SENTINEL_PULSE = """id: 11111111-1111-1111-1111-111111111111
name: VPN login from a new country
severity: Medium
enabled: true
requiredDataConnectors:
  - connectorId: PulseConnectSecure
    dataTypes: [Syslog]
relevantTechniques: [T1133]
tactics: [InitialAccess]
query: Syslog | take 1
kind: Scheduled
"""


def test_sentinel_pulse_connector_does_not_count_for_a_fortinet_vpn(tmp_path: Path, kb18: AttackKB) -> None:
    vpn = {"name": "VPN", "type": "vpn", "vendor": "Fortinet", "product": "FortiGate SSL-VPN",
           "applicable_to": ["Workstations"], "siem": ["sentinel"]}
    rule = _rule(tmp_path, kb18, "pulse.yaml", SENTINEL_PULSE, "sentinel")
    health = _health(rule, kb18, _inventory(tmp_path, kb18, [vpn]))
    assert health.outcome is HealthOutcome.MISSING_LOG_SOURCE and "Pulse" in " ".join(health.missing)
    pulse = {**vpn, "vendor": "Ivanti", "product": "Pulse Connect Secure 9.1"}
    assert _health(rule, kb18, _inventory(tmp_path, kb18, [pulse])).outcome is HealthOutcome.HEALTHY


def test_rule_needs_its_log_source_on_its_own_siem(tmp_path: Path, kb18: AttackKB) -> None:
    """The bank runs Splunk and Sentinel: Windows logs only in Splunk make a Sentinel rule on them missing."""
    rule = _rule(tmp_path, kb18, "p.yml", SIGMA.format(title="p", tags="attack.t1059.001",
                                                       logsource="product: windows, category: process_creation"),
                 "sentinel")
    estate = _inventory(tmp_path, kb18, [WINSEC])
    assert _health(rule, kb18, estate).outcome is HealthOutcome.MISSING_LOG_SOURCE
    assert _health(replace(rule, siems=("splunk",)), kb18, estate).outcome is HealthOutcome.HEALTHY


@pytest.mark.parametrize("logsource", ["product: macos, category: process_creation",
                                       "product: linux, category: process_creation"])
def test_platform_the_bank_does_not_run_is_not_applicable(tmp_path: Path, kb18: AttackKB, logsource: str) -> None:
    """A macOS rule and a Linux rule through a Windows-only EDR are not healthy (whatever the index spelling)."""
    groups = [{"applicable_to": "Workstations", "platforms": ["Windows"], "criticality": 3}]
    rule = _rule(tmp_path, kb18, "m.yml", SIGMA.format(title="m", tags="attack.t1059.004", logsource=logsource),
                 "splunk")
    health = _health(rule, kb18, _inventory(tmp_path, kb18, [{**EDR_MDE, "applicable_to": ["Workstations"]}],
                                            groups))
    assert health.outcome is HealthOutcome.NOT_APPLICABLE and not health.healthy


def test_okta_rule_is_not_healthy_through_entra_id(tmp_path: Path, kb18: AttackKB) -> None:
    entra = {"name": "Entra", "type": "mfa-idp", "vendor": "Microsoft", "product": "Entra ID P2",
             "applicable_to": ["Cloud"], "siem": ["splunk"]}
    rule = _rule(tmp_path, kb18, "okta.yml", SIGMA.format(title="o", tags="attack.t1110.003",
                                                          logsource="product: okta, service: okta"), "splunk")
    health = _health(rule, kb18, _inventory(tmp_path, kb18, [entra]))
    assert not health.healthy and "okta" in (health.detail + " ".join(health.missing))


ML_RULE = '''[metadata]
maturity = "production"
[rule]
name = "Rare process (ML)"
rule_id = "00000000-0000-0000-0000-000000000002"
type = "machine_learning"
severity = "low"
risk_score = 21
machine_learning_job_id = "rare_process_by_host"
anomaly_threshold = 75
[[rule.threat]]
framework = "MITRE ATT&CK"
[[rule.threat.technique]]
id = "T1059"
name = "T1059"
reference = "https://attack.mitre.org/techniques/T1059/"
[rule.threat.tactic]
id = "TA0002"
name = "Execution"
reference = "https://attack.mitre.org/tactics/TA0002/"
'''


def test_ml_rule_needs_its_job_on_the_siem(tmp_path: Path, kb18: AttackKB) -> None:
    rule = _rule(tmp_path, kb18, "ml.toml", ML_RULE, "elastic")
    assert _health(rule, kb18, _inventory(tmp_path, kb18, [EDR_MDE])).outcome is HealthOutcome.MISSING_LOG_SOURCE
    siems = [{"id": "elastic", "product": "elastic", "ml_jobs": ["rare_process_by_host"]}]
    assert _health(rule, kb18, _inventory(tmp_path, kb18, [{**EDR_MDE, "siem": ["elastic"]}], siems=siems)
                   ).outcome is HealthOutcome.HEALTHY
    undeclared = [{"id": "elastic", "product": "elastic"}]
    assert _health(rule, kb18, _inventory(tmp_path, kb18, [{**EDR_MDE, "siem": ["elastic"]}], siems=undeclared)
                   ).outcome is HealthOutcome.UNVERIFIED


def test_windows_system_log_rules_can_be_healthy(tmp_path: Path, kb18: AttackKB) -> None:
    """Service-install rules on the System log were always "missing" (the mapping asked for Host Status)."""
    rule = _rule(tmp_path, kb18, "svc.yml", SIGMA.format(title="s", tags="attack.t1543.003",
                                                         logsource="product: windows, service: system"), "splunk")
    assert _health(rule, kb18, _inventory(tmp_path, kb18, [WINSEC])).outcome is HealthOutcome.HEALTHY


def test_rule_source_groups_are_respected(tmp_path: Path, kb18: AttackKB) -> None:
    rule = _rule(tmp_path, kb18, "p.yml", SIGMA.format(title="p", tags="attack.t1059.001",
                                                       logsource="product: windows, category: process_creation"),
                 "splunk", groups=("Servers",))
    health = _health(rule, kb18, _inventory(tmp_path, kb18, [WINSEC]))
    assert health.healthy_groups == ("Servers",) and {g.group for g in health.groups} == {"Servers"}


def test_shared_judgements_match_rule_by_rule(kb18: AttackKB) -> None:
    """``assess`` judges each distinct need once and shares the verdict; on every real corpus, against the demo
    bank's 8 groups × 4 SIEMs, that gives exactly what judging each rule alone gives."""
    from conftest import shared_path

    from detcov.rules.health import assess_rule, watched

    catalog = load_catalog()
    estate = build_estate(load_inventory(DEMO / "inventory.yaml", kb18, catalog), kb18, catalog)
    corpora = shared_path("rules-corpora")
    rules = [r.placed((), estate.siems_for_format(r.format.family))
             for name in ("sigma", "elastic", "sentinel", "splunk", "defender")
             for r in read_rules(corpora / name, kb18).rules]
    assert len(rules) > 5000
    shared = assess(rules, kb18, estate.health_scopes)
    alone = [assess_rule(r, kb18, watched(r, estate.health_scopes)) for r in rules]
    assert [(h.outcome, h.detail, h.missing, h.groups) for h in shared] == \
        [(h.outcome, h.detail, h.missing, h.groups) for h in alone]
    assert all(h.in_group(g) == a.in_group(g) for h, a in zip(shared, alone, strict=True)
               for g in (x.applicable_to for x in estate.groups))
    assert len({id(h.groups) for h in shared}) < len(rules) / 5  # verdicts really are shared


def test_verdicts_text_names_the_siems_that_share_a_verdict() -> None:
    from detcov.rules.health import GroupHealth, verdicts_text

    missing = "sigma product:linux service:auditd: needs device linux-auditd on Linux"
    groups = [GroupHealth(group, siem, HealthOutcome.MISSING_LOG_SOURCE, f"{missing}; {group} has none", (missing,))
              for group in ("Linux servers", "Core banking") for siem in ("splunk", "elastic")] + [
        GroupHealth("Linux servers", "sentinel", HealthOutcome.HEALTHY, "delivered", devices=("auditd",)),
        GroupHealth("Windows", "splunk", HealthOutcome.NOT_APPLICABLE, "runs on Linux")] + [
        GroupHealth(group, siem, HealthOutcome.UNVERIFIED, "log source not in the mapping tables")
        for group in ("Cloud", "Network") for siem in ("splunk", "elastic")]
    assert verdicts_text(groups) == (
        f"missing-log-source in Linux servers (splunk, elastic); Core banking (splunk, elastic) — {missing} | "
        "healthy in Linux servers (sentinel: auditd) | "
        "unverified-log-source in Cloud (splunk, elastic); Network (splunk, elastic) — log source not in the "
        "mapping tables")


def test_healthy_detail_names_only_groups_with_no_healthy_siem(tmp_path: Path, kb18: AttackKB) -> None:
    from detcov.rules.health import GroupHealth, _overall

    rule = _rule(tmp_path, kb18, "r.yml", SIGMA.format(title="t", tags="attack.t1059.001",
                                                       logsource="product: windows, category: process_creation"),
                 "splunk")
    groups = (GroupHealth("Servers", "splunk", HealthOutcome.HEALTHY, "ok"),
              GroupHealth("Servers", "elastic", HealthOutcome.MISSING_LOG_SOURCE, "none"),
              GroupHealth("Workstations", "elastic", HealthOutcome.MISSING_LOG_SOURCE, "none"))
    assert _overall(rule, groups).detail == "healthy in Servers; not in Workstations"
