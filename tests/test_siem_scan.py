"""End to end: ``detcov pull splunk`` from the local fake → a scan with the pulled rules and ``log_flow:`` → a silent
EDR changes the result (its rules break, visibility drops, the evidence is shown).

Needs the scan's ``log_flow:`` wiring (the scope model of issues 11/12); until ``ScanConfig`` has ``log_flow`` the
test is skipped saying so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import siem_fakes as fk
from conftest import run_cli
from test_siem_connectors import ANNOT

from detcov.config import ScanConfig

pytestmark = pytest.mark.skipif("log_flow" not in ScanConfig.model_fields,
                                reason="ScanConfig has no log_flow yet (the lead's scope-model wiring, issues 11/12)")

AS_OF = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
INVENTORY = """version: 1
file_type: inventory
name: Test Bank
siems:
  - {id: splunk, product: splunk, name: Splunk Enterprise Security}
system_groups:
  - applicable_to: Windows workstations
    platforms: [Windows]
    hosts: 1000
    criticality: 4
    kind: workstations
devices:
  - name: EDR
    type: edr
    vendor: Microsoft
    product: Defender for Endpoint P2
    applicable_to: [all]
    siem: [splunk]
    feeds: [{siem: splunk, index: edr, sourcetype: "mde:*"}]
    data_quality: {device_completeness: 5, data_field_completeness: 5, timeliness: 5, consistency: 5, retention: 5}
"""
CONFIG = """version: 1
file_type: scan
name: Test Bank
attack: {{path: {attack}}}
inventory: inventory.yaml
as_of: 2026-12-01
rules:
  - {{path: pulled/rules, siem: splunk}}
log_flow: pulled
output: out
"""


def _entries() -> list[dict[str, object]]:
    return [fk.splunk_entry("Threat - Encoded PowerShell - Rule", {
        "disabled": False, "action.correlationsearch.enabled": "1", "action.correlationsearch.label":
        "Encoded PowerShell", "action.correlationsearch.annotations": ANNOT, "action.notable.param.severity": "high",
        "search": "| tstats count from datamodel=Endpoint.Processes where Processes.process=\"*-enc*\""})]


def _tstats(last: datetime) -> list[dict[str, str]]:
    return [{"index": "edr", "sourcetype": "mde:process", "count": "5120", "lastTime": f"{last.timestamp():.0f}"}]


@pytest.fixture
def bank(tmp_path: Path, bundle18: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SPLUNK_TOKEN", fk.SPLUNK_TOKEN)
    (tmp_path / "inventory.yaml").write_text(INVENTORY, encoding="utf-8")
    (tmp_path / "detcov.yaml").write_text(CONFIG.format(attack=bundle18), encoding="utf-8")
    yield tmp_path


def _pull_and_scan(capsys: pytest.CaptureFixture[str], bank: Path, last: datetime) -> tuple[object, str]:
    from detcov.coverage.engine import run_scan

    with fk.serve(fk.splunk_api(_entries(), _tstats(last))) as api:
        code, _, err = run_cli(capsys, "pull", "splunk", "--url", api.url, "--out", str(bank / "pulled"),
                               "--refresh")
    assert code == 0, err
    result = run_scan(bank / "detcov.yaml")
    return result, orjson.dumps(result.summary, default=str).decode()  # type: ignore[attr-defined]


def test_a_silent_edr_breaks_its_rules_and_caps_visibility(capsys: pytest.CaptureFixture[str], bank: Path) -> None:
    flowing, _ = _pull_and_scan(capsys, bank, AS_OF - timedelta(hours=2))
    silent, silent_summary = _pull_and_scan(capsys, bank, AS_OF - timedelta(days=9))

    def health(result: object) -> str:
        (rule,) = [h for h in result.healths if h.rule.title == "Encoded PowerShell"]  # type: ignore[attr-defined]
        return str(rule.outcome)

    assert health(flowing) == "healthy"
    assert health(silent) != "healthy"
    assert flowing.visibility["T1059.001"].score > silent.visibility["T1059.001"].score  # type: ignore[attr-defined]
    assert flowing.detection["T1059.001"].score > silent.detection["T1059.001"].score  # type: ignore[attr-defined]
    assert "index=edr sourcetype=mde:* silent since 2026-11-22T" in silent_summary
