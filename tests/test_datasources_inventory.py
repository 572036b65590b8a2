"""Inventory file: validation with file:line:col, telemetry, blocking devices, template, DeTT&CT interop."""

from __future__ import annotations

from pathlib import Path

import pytest

from detcov.attack import AttackKB
from detcov.datasources.catalog import load_catalog
from detcov.datasources.dettect import export_dettect, import_dettect, to_yaml
from detcov.datasources.inventory import DataQuality, Inventory, load_inventory, load_inventory_with_issues
from detcov.datasources.validate import check_inventory
from detcov.errors import DetcovError, Severity
from detcov.userfiles import load_yaml
from tests.conftest import REPO, shared_path

DEMO = REPO / "examples" / "demo-bank" / "inventory.yaml"


def test_demo_bank_is_valid_and_clean(kb_any: AttackKB) -> None:
    inv, issues, _ = load_inventory_with_issues(DEMO, kb_any, load_catalog())
    assert [str(i) for i in issues] == []
    assert len(inv.devices) >= 25
    assert {g.applicable_to for g in inv.system_groups} >= {"Windows workstations", "Core banking", "SWIFT zone"}


def test_demo_bank_telemetry_follows_the_fact_sheet(kb18: AttackKB) -> None:
    cat = load_catalog()
    inv = load_inventory(DEMO, kb18, cat)
    tel = inv.telemetry(kb18, cat)
    assert "linux-auditd" not in tel.device_types  # deployed, logs not in the SIEM
    assert not tel.has_device_type("aws-cloudtrail") and tel.has_device_type("sysmon")
    assert tel.has_log_source("winEventLog:sysmon", "Windows") and not tel.has_log_source("AWS:CloudTrail")
    groups = inv.group_telemetry(kb18, cat)
    pc = kb18.data_component("Process Creation")
    assert pc is not None
    ws = {d.device for d in groups["Windows workstations"].deliveries(pc.stix_id, "Windows")}
    assert "Sysmon (servers and SWIFT zone)" not in ws and "EDR" in ws
    assert "Linux auditd" in groups["Linux servers"].not_in_siem["Linux"][pc.stix_id]
    blocking = {d.type for d in inv.devices if d.blocking}
    assert "ids-ips" not in blocking and "ngfw" in blocking


def test_setting_off_removes_its_components(kb18: AttackKB) -> None:
    cat = load_catalog()
    inv = load_inventory(DEMO, kb18, cat)
    ce = kb18.data_component("Command Execution")
    assert ce is not None
    winsec = next(d for d in inv.devices if d.type == "windows-security")
    off = winsec.model_copy(update={"settings": {**winsec.settings, "command-line-auditing": False}})
    from detcov.datasources.inventory import resolve_device
    assert ce.stix_id in resolve_device(winsec, kb18, cat).components
    assert ce.stix_id not in resolve_device(off, kb18, cat).components


BAD = """version: 1
file_type: inventory
system_groups:
  - applicable_to: Workstations
    platforms: [Windows]
devices:
  - name: Sysmon
    type: sysmn
    applicable_to: [Workstations]
    colour: blue
  - name: Custom
    components: [Process Creation, Proces Creation]
    applicable_to: [Workstations]
    data_quality: {device_completeness: 7}
"""


def test_bad_inventory_reports_every_problem_located(tmp_path: Path, kb18: AttackKB) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(BAD)
    with pytest.raises(DetcovError) as err:
        load_inventory(path, kb18, load_catalog())
    lines = [str(i) for i in err.value.issues]
    assert any(":8:" in t and "sysmn" in t and "sysmon" in t for t in lines)
    assert any(":10:" in t and "colour" in t for t in lines)
    assert any(":12:" in t and "Proces Creation" in t for t in lines)
    assert any(":14:" in t and "device_completeness" in t for t in lines)


def test_semantic_checks_are_located(tmp_path: Path, kb18: AttackKB) -> None:
    text = BAD.replace("sysmn", "sysmon").replace("    colour: blue\n", "").replace(
        "Proces Creation", "Module Load").replace("7}", "3}").replace(
        "components: [Process", "settings: {x: true}\n    components: [Process")
    text = text.replace("applicable_to: [Workstations]\n    data_quality",
                        "applicable_to: [Workstation]\n    data_quality")
    path = tmp_path / "inv.yaml"
    path.write_text(text)
    inv = Inventory.model_validate(load_yaml(path))
    issues = check_inventory(inv, kb18, load_catalog(), load_yaml(path), path)
    errors = [str(i) for i in issues if i.severity is Severity.ERROR]
    assert any("'Workstation'" in e and "did you mean 'Workstations'" in e and ":13:" in e for e in errors)
    warnings = [str(i) for i in issues if i.severity is Severity.WARNING]
    assert any("data quality not documented" in w for w in warnings)


def test_data_quality_factor() -> None:
    assert DataQuality().factor == 0.5 and not DataQuality().known
    assert DataQuality(device_completeness=4, data_field_completeness=4, timeliness=4, consistency=4,
                       retention=4).factor == 1.0
    low = DataQuality(device_completeness=1, data_field_completeness=1, timeliness=5, consistency=5, retention=1)
    assert low.weighted == pytest.approx((2 + 2 + 5 + 5 + 2) / 8)
    assert 0 < low.factor < 1


def test_init_template_keeps_comments(tmp_path: Path, kb18: AttackKB) -> None:
    from detcov.cli.main import main
    out = tmp_path / "inventory.yaml"
    main(["inventory", "init", str(out), "--name", "Test Bank"])
    text = out.read_text()
    assert "# detcov inventory" in text and "name: Test Bank" in text and "# prevention / block mode" in text
    inv, _, _ = load_inventory_with_issues(out, kb18, load_catalog())
    assert inv.name == "Test Bank"


def test_dettect_import_export_roundtrip(tmp_path: Path, kb18: AttackKB) -> None:
    source = shared_path("dettect-samples", "data-sources-endpoints.yaml")
    cat = load_catalog()
    doc, issues = import_dettect(source, kb18, cat)
    assert {i.severity for i in issues} == {Severity.INFO}  # DeTT&CT's own data sources (Web, Internal DNS), noted
    inv = Inventory.model_validate(doc)
    assert {d.type for d in inv.devices} >= {"web-proxy", "dns"}
    sysmon = next(d for d in inv.devices if d.name == "Sysmon")
    assert {"Process Creation", "WMI Creation", "Windows Registry Key Deletion"} <= set(sysmon.components)
    assert not [i for i in check_inventory(inv, kb18, cat) if i.severity is Severity.ERROR]
    original = load_yaml(source)
    exported = export_dettect(inv, kb18, cat)
    path = tmp_path / "ds.yaml"
    path.write_text(to_yaml(exported))
    back = load_yaml(path)
    assert back["file_type"] == "data-source-administration" and "&id" not in path.read_text()
    names = {e["data_source_name"] for e in back["data_sources"]}
    assert {e["data_source_name"] for e in original["data_sources"]} <= names | {"Firewall rule modification"}
    for entry in back["data_sources"]:  # the keys DeTT&CT's health check requires
        for detail in entry["data_source"]:
            assert {"applicable_to", "date_registered", "date_connected", "products",
                    "available_for_data_analytics", "comment", "data_quality"} <= set(detail)
            assert set(detail["data_quality"]) == {"device_completeness", "data_field_completeness", "timeliness",
                                                   "consistency", "retention"}
