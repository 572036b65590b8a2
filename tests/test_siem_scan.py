"""End to end, per SIEM: ``detcov pull VENDOR`` from its local fake → a scan with the pulled rules and ``log_flow:``
→ a silent EDR changes the result (its rule breaks, visibility and detection drop, the evidence is shown).

Needs the scan's ``log_flow:`` wiring (the scope model of issues 11/12); until ``ScanConfig`` has ``log_flow`` the
test is skipped saying so."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import siem_fakes as fk
from conftest import run_cli
from test_siem_connectors import ANNOT

from detcov.config import ScanConfig

pytestmark = pytest.mark.skipif("log_flow" not in ScanConfig.model_fields,
                                reason="ScanConfig has no log_flow yet (the lead's scope-model wiring, issues 11/12)")

AS_OF = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OTHER_LAST = AS_OF - timedelta(minutes=5)
INVENTORY = """version: 1
file_type: inventory
name: Test Bank
siems:
  - {{id: {siem}, product: {product}}}
system_groups:
  - applicable_to: Windows workstations
    platforms: [Windows]
    hosts: 1000
    criticality: 4
    kind: workstations
devices:
  - name: EDR
    type: edr
    vendor: {edr_vendor}
    product: {edr_product}
    applicable_to: [all]
    siem: [{siem}]
    feeds: [{edr_feed}]
    data_quality: {{device_completeness: 5, data_field_completeness: 5, timeliness: 5, consistency: 5, retention: 5}}
    blocking: false
  - name: Other
    type: {other_type}
    applicable_to: [all]
    siem: [{siem}]
    feeds: [{other_feed}]
    blocking: false
"""
CONFIG = """version: 1
file_type: scan
name: Test Bank
attack: {{path: {attack}}}
inventory: inventory.yaml
as_of: 2026-12-01
rules:
  - {{path: pulled/rules, siem: {siem}}}
log_flow: pulled
output: out
"""
ENCODED_KQL = "DeviceProcessEvents | where ProcessCommandLine has '-enc'"
Pull = Callable[[datetime], AbstractContextManager[list[str]]]


@dataclass(frozen=True)
class Vendor:
    name: str
    product: str
    edr: tuple[str, str]  # vendor, product: a vendor's own EDR rules need that product (Elastic Defend)
    edr_feed: str
    other_type: str
    other_feed: str
    env: dict[str, str]
    pull: Pull  # EDR's last event → a context serving the fake(s), yielding the `detcov pull` arguments


@contextmanager
def _splunk(edr_last: datetime) -> Iterator[list[str]]:
    entry = fk.splunk_entry("Threat - Encoded PowerShell - Rule", {
        "disabled": False, "action.correlationsearch.enabled": "1", "action.correlationsearch.label":
        "Encoded PowerShell", "action.correlationsearch.annotations": ANNOT, "action.notable.param.severity": "high",
        "search": "| tstats count from datamodel=Endpoint.Processes where Processes.process=\"*-enc*\""})
    rows = [{"index": "edr", "sourcetype": "mde:process", "count": "5120", "lastTime": f"{edr_last.timestamp():.0f}"},
            {"index": "fw", "sourcetype": "pan:traffic", "count": "88100", "lastTime": f"{OTHER_LAST.timestamp():.0f}"}]
    with fk.serve(fk.splunk_api([entry], rows)) as api:
        yield ["splunk", "--url", api.url]


@contextmanager
def _elastic(edr_last: datetime) -> Iterator[list[str]]:
    rule = fk.kibana_rule("enc-ps", "Encoded PowerShell", True, ["T1059"], ["logs-endpoint.events.process-*"])
    rule["threat"][0]["technique"][0]["subtechnique"] = [{"id": "T1059.001", "name": "PowerShell"}]
    buckets = [{"key": ".ds-logs-endpoint.events.process-default-2026.11.01-000001", "doc_count": 5120,
                "last": {"value": edr_last.timestamp() * 1000}},
               {"key": ".ds-logs-panw.panos-default-2026.11.01-000001", "doc_count": 88100,
                "last": {"value": OTHER_LAST.timestamp() * 1000}}]
    with fk.serve(fk.kibana_api([rule])) as kibana, fk.serve(fk.es_api(buckets)) as es:
        yield ["elastic", "--url", kibana.url, "--es-url", es.url]


def _azure(edr_last: datetime, other_table: str) -> fk.FakeApi:
    rule = fk.sentinel_rule("enc-ps", "Encoded PowerShell", True, ["T1059.001"], ENCODED_KQL)
    detection = {"id": "enc-ps", "displayName": "Encoded PowerShell", "isEnabled": True,
                 "queryCondition": {"queryText": ENCODED_KQL},
                 "detectionAction": {"alertTemplate": {"title": "Encoded PowerShell", "severity": "high",
                                                       "category": "Execution", "mitreTechniques": ["T1059.001"]}}}
    stamp = f"{edr_last.isoformat()}".replace("+00:00", "Z")
    other = OTHER_LAST.isoformat().replace("+00:00", "Z")
    return fk.azure_api([rule], [["DeviceProcessEvents", stamp, 700], [other_table, other, 720]], [detection],
                        [{"Table": "DeviceProcessEvents", "Count": 5120, "LastSeen": stamp},
                         {"Table": other_table, "Count": 88100, "LastSeen": other}])


@contextmanager
def _sentinel(edr_last: datetime) -> Iterator[list[str]]:
    with fk.serve(_azure(edr_last, "CommonSecurityLog")) as api:
        yield ["sentinel", "--subscription", "d0cfe6b2", "--resource-group", "myRg", "--workspace", "myWorkspace",
               "--workspace-id", fk.WORKSPACE_ID, "--arm-url", api.url, "--logs-url", api.url, "--authority", api.url]


@contextmanager
def _defender(edr_last: datetime) -> Iterator[list[str]]:
    with fk.serve(_azure(edr_last, "EmailEvents")) as api:
        yield ["defender", "--graph-url", api.url]


MDE = ("Microsoft", "Defender for Endpoint P2")
AZURE_ENV = {"AZURE_TENANT_ID": fk.TENANT, "AZURE_CLIENT_ID": "00000000-aaaa-bbbb-cccc-000000000001",
             "AZURE_CLIENT_SECRET": fk.CLIENT_SECRET}
VENDORS = [
    Vendor("splunk", "splunk", MDE, '{siem: splunk, index: edr, sourcetype: "mde:*"}', "ngfw",
           '{siem: splunk, index: fw, sourcetype: "pan:*"}', {"SPLUNK_TOKEN": fk.SPLUNK_TOKEN}, _splunk),
    Vendor("elastic", "elastic", ("Elastic", "Elastic Defend"), '{siem: elastic, index: "logs-endpoint.events.*"}',
           "ngfw", '{siem: elastic, index: "logs-panw.*"}', {"ELASTIC_API_KEY": fk.ELASTIC_KEY}, _elastic),
    Vendor("sentinel", "sentinel", MDE, "{siem: sentinel, table: DeviceProcessEvents}", "ngfw",
           "{siem: sentinel, table: CommonSecurityLog}", AZURE_ENV, _sentinel),
    Vendor("defender", "defender-xdr", MDE, "{siem: defender, table: DeviceProcessEvents}", "email-gateway",
           "{siem: defender, table: EmailEvents}", {"DETCOV_GRAPH_TOKEN": fk.ACCESS_TOKEN}, _defender),
]


@pytest.fixture(params=VENDORS, ids=lambda v: v.name)
def bank(request: pytest.FixtureRequest, tmp_path: Path, bundle18: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Vendor]]:
    vendor: Vendor = request.param
    for key, value in vendor.env.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "inventory.yaml").write_text(INVENTORY.format(
        siem=vendor.name, product=vendor.product, edr_vendor=vendor.edr[0], edr_product=vendor.edr[1],
        edr_feed=vendor.edr_feed, other_type=vendor.other_type,
        other_feed=vendor.other_feed), encoding="utf-8")
    (tmp_path / "detcov.yaml").write_text(CONFIG.format(attack=bundle18, siem=vendor.name), encoding="utf-8")
    yield tmp_path, vendor


def _pull_and_scan(capsys: pytest.CaptureFixture[str], bank: Path, vendor: Vendor, edr_last: datetime) -> Any:
    from detcov.coverage.engine import run_scan

    with vendor.pull(edr_last) as args:
        code, _, err = run_cli(capsys, "pull", *args, "--siem", vendor.name, "--out", str(bank / "pulled"),
                               "--refresh")
    assert code == 0, err
    return run_scan(bank / "detcov.yaml")


def test_a_silent_edr_breaks_its_rules_and_caps_visibility(capsys: pytest.CaptureFixture[str],
                                                           bank: tuple[Path, Vendor]) -> None:
    folder, vendor = bank
    flowing = _pull_and_scan(capsys, folder, vendor, AS_OF - timedelta(hours=2))
    silent = _pull_and_scan(capsys, folder, vendor, AS_OF - timedelta(days=9))

    def health(result: Any) -> str:
        (rule,) = [h for h in result.healths if h.rule.title == "Encoded PowerShell"]
        return str(rule.outcome)

    assert health(flowing) == "healthy"
    assert health(silent) != "healthy"
    (broken,) = [h for h in silent.healths if h.rule.title == "Encoded PowerShell"]
    assert "silent" in broken.detail and "EDR" in broken.detail  # the rule says why: its source went quiet
    assert "silent" in silent.visibility["T1059.001"].explanation
    assert flowing.visibility["T1059.001"].score > silent.visibility["T1059.001"].score
    assert flowing.detection["T1059.001"].score > silent.detection["T1059.001"].score
    if vendor.name != "splunk":  # the output path is the same for every SIEM: checked once
        return
    # the evidence is shown where a SOC engineer looks: the scan's devices table
    code, _, err = run_cli(capsys, "scan", str(folder / "detcov.yaml"), "--out", str(folder / "out"))
    assert code in (0, 1), err
    devices = next((folder / "out").rglob("devices.csv")).read_text(encoding="utf-8")
    edr = next(line for line in devices.splitlines() if line.startswith("EDR,"))
    assert "silent since 2026-11-22T12:00Z (9 days before" in edr
