"""Rule health against hand-built telemetry, and ``detcov rules check`` end to end on the demo bank."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from detcov.attack import AttackKB
from detcov.cli.main import cli
from detcov.datasources.telemetry import CollectedTelemetry
from detcov.rules import HealthOutcome, assess, read_rules

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo-bank"
RULES = """title: {title}
status: {status}
tags: [{tags}]
logsource: {{{logsource}}}
detection: {{sel: {{a: b}}, condition: sel}}
"""


def _telemetry(kb: AttackKB) -> CollectedTelemetry:
    dc = kb.data_component
    windows = frozenset(d.stix_id for d in (dc("Process Creation"), dc("Script Execution"), dc("Command Execution"))
                        if d is not None)
    return CollectedTelemetry({"Windows": windows}, {}, frozenset({"windows-security", "powershell", "edr"}))


@pytest.mark.parametrize(("status", "tags", "logsource", "outcome"), [
    ("test", "attack.t1059.001", "product: windows, category: process_creation", HealthOutcome.HEALTHY),
    ("deprecated", "attack.t1059.001", "product: windows, category: process_creation", HealthOutcome.DISABLED),
    ("test", "attack.execution", "product: windows, category: process_creation", HealthOutcome.UNMAPPED),
    ("test", "attack.t1685.003", "product: windows, category: process_creation", HealthOutcome.UNKNOWN_TECHNIQUE),
    ("test", "attack.t1059.004", "product: linux, category: process_creation", HealthOutcome.MISSING_LOG_SOURCE),
    ("test", "attack.t1562.008", "product: aws, service: cloudtrail", HealthOutcome.MISSING_LOG_SOURCE),
    ("test", "attack.t1055", "product: windows, category: pipe_created", HealthOutcome.MISSING_LOG_SOURCE),
    ("test", "attack.t1195", "product: github, service: audit", HealthOutcome.UNVERIFIED),
])
def test_outcomes(tmp_path: Path, kb_any: AttackKB, status: str, tags: str, logsource: str,
                  outcome: HealthOutcome) -> None:
    path = tmp_path / "r.yml"
    path.write_text(RULES.format(title="t", status=status, tags=tags, logsource=logsource), encoding="utf-8")
    (health,) = assess(read_rules(path, kb_any).rules, kb_any, _telemetry(kb_any))
    assert health.outcome is outcome
    if outcome is HealthOutcome.MISSING_LOG_SOURCE:
        assert health.missing and "needs" in health.missing[0]


def test_device_type_needed_even_when_component_is_there(tmp_path: Path, kb18: AttackKB) -> None:
    path = tmp_path / "r.yml"
    path.write_text(RULES.format(title="t", status="test", tags="attack.t1059.001",
                                 logsource="product: windows, service: sysmon"), encoding="utf-8")
    rules = read_rules(path, kb18).rules
    tel = _telemetry(kb18)
    assert assess(rules, kb18, tel)[0].outcome is HealthOutcome.MISSING_LOG_SOURCE
    with_sysmon = CollectedTelemetry(tel.components, {}, tel.device_types | {"sysmon"})
    assert assess(rules, kb18, with_sysmon)[0].outcome is HealthOutcome.HEALTHY


def test_rules_check_demo_bank(kb18: AttackKB, bundle18: Path, tmp_path: Path) -> None:
    out_csv = tmp_path / "rules.csv"
    args = ["rules", "check", str(DEMO / "rules"), "--attack", str(bundle18), "--inventory",
            str(DEMO / "inventory.yaml"), "--csv", str(out_csv)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    files = [p for p in (DEMO / "rules").rglob("*") if p.is_file()]
    assert f"{len(files)} files" in result.output and "Rule health" in result.output
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8"))))
    assert len(rows) == len(read_rules(DEMO / "rules", kb18))
    outcome = {r["title"]: r["health"] for r in rows}
    assert outcome["CloudTrail logging stopped"] == "missing-log-source"
    assert outcome["Reverse shell one-liner on a Linux server"] == "missing-log-source"
    assert outcome["Legacy at.exe Job Creation"] == "disabled"
    assert outcome["Certutil Downloads A File"] == "healthy"
    assert {"unknown-technique", "unmapped"} <= set(outcome.values())
    # the ML rule's job is not among the jobs the Elastic SIEM declares: missing, not silently healthy
    assert outcome["Rare Process On Teller Workstations (ML)"] == "missing-log-source"
    failing = CliRunner().invoke(cli, [*args[:3], "--attack", str(bundle18), "--fail-on", "unknown,revoked"])
    assert failing.exit_code == 1
    bad_gate = CliRunner().invoke(cli, [*args[:3], "--fail-on", "nonsense"])
    assert bad_gate.exit_code == 2
