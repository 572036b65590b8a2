"""The shipped device catalogue: required types, names valid in ATT&CK 17.1 and 18.1, evidence that checks out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from detcov.attack import AttackKB
from detcov.datasources.catalog import CatalogComponent, check_catalog, load_catalog
from detcov.errors import DetcovError, Severity

REQUIRED = [
    "firewall", "ngfw", "ids-ips", "waf", "web-proxy", "email-gateway", "dns", "dhcp", "vpn", "ndr", "edr",
    "antivirus", "sandbox", "active-directory", "windows-security", "sysmon", "powershell", "linux-auditd",
    "dlp", "pam", "database-audit", "aws-cloudtrail", "azure-entra-m365", "gcp-audit", "mfa-idp", "mdm",
    "core-banking", "swift-payment", "network-devices",
]


def test_required_types_present() -> None:
    cat = load_catalog()
    assert set(REQUIRED) <= set(cat.ids)
    assert len(set(cat.ids)) == len(cat.ids)


def test_every_component_exists_in_both_versions(kb_any: AttackKB) -> None:
    issues = check_catalog(load_catalog(), kb_any)
    assert [str(i) for i in issues if i.severity is Severity.ERROR] == []
    if kb_any.detection_model.value == "analytics":  # v18 names log sources; every one we cite exists
        assert [str(i) for i in issues] == []


def test_missing_component_is_reported(kb18: AttackKB) -> None:
    cat = load_catalog()
    sysmon = cat.get("sysmon")
    assert sysmon is not None
    broken = sysmon.model_copy(update={"components": (
        *sysmon.components, CatalogComponent(component="Quantum Telemetry", evidence="R", ref="none"))})
    cat2 = type(cat)((broken,), {"sysmon": "x.yaml"})
    issues = check_catalog(cat2, kb18)
    assert any("Quantum Telemetry" in i.message and i.severity is Severity.ERROR for i in issues)


def test_analytic_evidence_is_true_in_18_1(kb18: AttackKB) -> None:
    """Every AN id cited as A-evidence is a v18.1 analytic that really references that data component."""
    checked = 0
    for t in load_catalog():
        for c in t.components:
            if c.evidence != "A":
                continue
            dc = kb18.data_component(c.component)
            assert dc is not None
            for an_id in re.findall(r"AN\d{4}", c.ref):
                analytic = kb18.analytic(an_id)
                assert analytic is not None, (t.id, an_id)
                assert dc.stix_id in {ls.data_component for ls in analytic.log_sources}, (t.id, c.component, an_id)
                checked += 1
    assert checked > 100


def test_requires_names_a_declared_setting() -> None:
    for t in load_catalog():
        declared = set(t.setting_ids)
        assert {c.requires for c in t.components if c.requires} <= declared, t.id


def test_blocking_types_name_live_mitigations(kb18: AttackKB) -> None:
    blockers = [t for t in load_catalog() if t.can_block]
    assert {"ngfw", "ids-ips", "waf", "edr", "antivirus", "dlp"} <= {t.id for t in blockers}
    for t in blockers:
        assert t.blocking is not None
        for mid in t.blocking.mitigations:
            m = kb18.mitigation(mid)
            assert m is not None and m.active, (t.id, mid)


def test_user_catalogue_extends_and_bad_file_is_located(tmp_path: Path) -> None:
    good = tmp_path / "mine.yaml"
    good.write_text("version: 1\nfile_type: device-catalog\nfamily: custom\ntypes:\n"
                    "  - id: hsm\n    name: HSM audit log\n    components:\n"
                    "      - {component: Application Log Content, evidence: R, ref: HSM key-usage audit}\n")
    cat = load_catalog([good])
    assert cat.get("hsm") is not None and cat.get("hsm").family == "custom"  # type: ignore[union-attr]
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nfile_type: device-catalog\nfamily: custom\ntypes:\n"
                   "  - id: hsm2\n    name: HSM\n    colour: red\n    components:\n"
                   "      - {component: Application Log Content, evidence: X, ref: r}\n")
    with pytest.raises(DetcovError) as err:
        load_catalog([bad])
    text = "\n".join(str(i) for i in err.value.issues)
    assert "bad.yaml:7:" in text and "colour" in text and "evidence" in text
