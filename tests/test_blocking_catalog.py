"""The blocking catalogue: schema, evidence checked technique by technique, the known over-claims gone."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from detcov.attack import AttackKB
from detcov.coverage.blocking_catalog import DATA, STRENGTH, Position, load_blocking_catalog
from detcov.datasources.catalog import load_catalog
from detcov.datasources.inventory import load_inventory
from detcov.errors import DetcovError, Severity
from tests.conftest import REPO, run_cli, shared_path

RAW: dict[str, Any] = yaml.safe_load(DATA.read_text(encoding="utf-8"))
SPECS = [(t["type"], i, c) for t in RAW["types"] for i, c in enumerate(t.get("claims", ()))]
CTID_SCORE = {"minimal": 1, "partial": 2, "significant": 3}


@cache
def _ctid(file: str) -> dict[str, dict[str, int]]:
    """capability -> {raw ATT&CK id: best protect score} of one Mappings Explorer file."""
    doc = json.loads(shared_path("mappings", "ctid-mappings-explorer", file).read_text(encoding="utf-8"))
    out: dict[str, dict[str, int]] = {}
    for r in doc["mapping_objects"]:
        if r.get("score_category") == "protect" and r.get("score_value") in CTID_SCORE:
            cap = out.setdefault(str(r["capability_id"]), {})
            tid = str(r["attack_object_id"])
            cap[tid] = max(cap.get(tid, 0), CTID_SCORE[str(r["score_value"])])
    return out


def test_loads_clean_in_every_attack_version(kb_any: AttackKB) -> None:
    bc = load_blocking_catalog(kb_any)
    assert [i for i in bc.issues if i.severity is not Severity.INFO] == []
    assert bc is load_blocking_catalog(kb_any)  # memoised per kb
    catalog = load_catalog()
    blockers = {t.id for t in catalog if t.can_block}
    assert set(bc.types) == blockers  # every device type that can block has reviewed claims
    for t in bc.types:
        for c in bc.claims(t):
            assert c.techniques and c.evidence and c.strength in STRENGTH and isinstance(c.position, Position)
            for tid in c.techniques:
                tech = kb_any.technique(tid)
                assert tech is not None and tech.active, (t, tid)
                if c.platforms:
                    assert set(tech.platforms) & set(c.platforms), (t, tid)
            dtype = catalog.get(t)
            assert dtype is not None and (c.requires is None or c.requires in dtype.setting_ids)


@pytest.mark.parametrize(("dtype", "index", "spec"), SPECS, ids=[f"{t}[{i}]" for t, i, _ in SPECS])
def test_evidence_backs_every_technique(kb_any: AttackKB, dtype: str, index: int, spec: dict[str, Any]) -> None:
    """CTID citations: the capability has a protect row for the technique, and the strength is not above it.
    ATT&CK citations: the mitigation mitigates the technique in this ATT&CK version (strength ≤ partial on text
    alone). Claims that also cite vendor documentation may rest on it; their other citations must still hold."""
    bc = load_blocking_catalog(kb_any)
    claim = bc.claims(dtype)[index]
    refs = spec["evidence"]
    vendor = any("vendor" in r for r in refs)
    for ref in refs:
        if "vendor" in ref:
            assert len(ref["vendor"]) > 20  # a named document, not "vendor docs"
    ctid_rows = [_ctid(r["ctid"]).get(r["capability"]) for r in refs if "ctid" in r]
    assert all(rows for rows in ctid_rows), "cited CTID capability has no protect rows"
    cited_mitigations = [r["attack"] for r in refs if "attack" in r]
    for mid in cited_mitigations:
        mitigated = {m.technique for m in kb_any.techniques_mitigated_by(mid)}
        assert mitigated & set(claim.techniques), f"{mid} mitigates none of the claim's techniques"
    for tid in claim.techniques:
        ctid = max((score for rows in ctid_rows if rows for raw, score in rows.items()
                    if kb_any.resolve(raw).current == tid), default=0)
        attack = any(tid in {m.technique for m in kb_any.techniques_mitigated_by(mid)} for mid in cited_mitigations)
        ceiling = max(ctid, 2 if attack else 0, 3 if vendor else 0)
        assert ceiling, f"{tid}: no cited source supports it"
        assert claim.strength <= ceiling, f"{tid}: strength {claim.strength} above its evidence ({ceiling})"


def test_no_policy_mitigation_in_blocking(kb18: AttackKB) -> None:
    policy = set(RAW["policy_mitigations"])
    assert {"M1018", "M1026", "M1027", "M1028", "M1032", "M1047", "M1043"} <= policy
    assert not [s for _, _, s in SPECS if s.get("mitigation", {}).get("id") in policy]
    bc = load_blocking_catalog(kb18)
    for t in bc.types:
        assert all(h.mitigation in policy for h in bc.hardening(t))
        claimed = bc.techniques(t)
        for mid in policy:  # no type claims a policy mitigation's technique list wholesale
            techniques = {m.technique for m in kb18.techniques_mitigated_by(mid)}
            assert len(techniques) < 5 or not techniques <= claimed, (t, mid)


def test_known_over_claims_are_gone(kb18: AttackKB) -> None:
    bc = load_blocking_catalog(kb18)
    m1018 = {m.technique for m in kb18.techniques_mitigated_by("M1018")}
    assert len(bc.techniques("active-directory") & m1018) <= 1  # was all of M1018
    assert [h.mitigation for h in bc.hardening("active-directory")].count("M1018") == 1
    m1043 = {m.technique for m in kb18.techniques_mitigated_by("M1043")}
    assert not bc.techniques("pam") & m1043  # Credential Guard is not a PAM feature
    assert "M1043" not in [h.mitigation for h in bc.hardening("pam")]
    assert [h.mitigation for h in bc.hardening("pam")] == ["M1026"]
    for proxy in ("web-proxy", "waf", "email-gateway"):
        assert not bc.techniques(proxy) & {"T1071.004", "T1046", "T1021.001", "T1570"}, proxy
    assert "T1071.004" in bc.techniques("ngfw")  # DNS security on the NGFW is where it belongs
    assert bc.techniques("waf") >= {"T1190"} and all(c.position is Position.INBOUND_WEB for c in bc.claims("waf"))
    for c in bc.claims("edr"):
        assert c.platforms, "every EDR claim says where it works"
        if c.platforms == ("Windows",):
            assert not {"T1059.004", "T1059.006"} & set(c.techniques)
    assert not bc.techniques("edr") & {"T1059.004"}
    assert not bc.techniques("sandbox") & {"T1559", "T1559.001", "T1611"}  # M1048 is endpoint isolation
    assert all(c.requires == "inline" for c in bc.claims("ids-ips") + bc.claims("sandbox"))
    assert all(c.platforms and "Windows" not in c.platforms for c in bc.claims("mfa-idp"))


def test_demo_blocking_devices_claim_far_fewer_techniques_than_the_mitigation_expansion(kb18: AttackKB) -> None:
    """The figure for issue 12: distinct techniques the demo's blocking devices may claim, old model vs catalogue."""
    catalog = load_catalog()
    inventory = load_inventory(REPO / "examples" / "demo-bank" / "inventory.yaml", kb18, catalog)
    bc = load_blocking_catalog(kb18)
    old: set[str] = set()
    new: set[str] = set()
    for device in inventory.devices:
        dtype = catalog.get(device.type) if device.type else None
        if not device.blocking or dtype is None or dtype.blocking is None:
            continue
        for mid in dtype.blocking.mitigations:  # the old model: every technique of every mitigation of the type
            old |= {m.technique for m in kb18.techniques_mitigated_by(mid)}
        new |= bc.techniques(dtype.id, device.settings)
    print(f"\ndemo blocking devices: {len(old)} techniques (mitigation expansion) → {len(new)} (blocking catalogue)")
    assert new and len(new) * 2 < len(old)
    assert not new - old - set().union(*(set(c.techniques) for t in bc.types for c in bc.claims(t)))


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text("version: 1\nfile_type: blocking-catalog\n" + body, encoding="utf-8")
    return path


def test_unknown_key_rejected_with_line(kb18: AttackKB, tmp_path: Path) -> None:
    path = _write(tmp_path, "types:\n- type: waf\n  claims:\n  - position: inbound-web\n    techniques: [T1190]\n"
                            "    stength: 2\n    evidence: [{vendor: 'F5 BIG-IP Advanced WAF guide, chapter 3'}]\n")
    with pytest.raises(DetcovError) as err:
        load_blocking_catalog(kb18, [path])
    text = str(err.value)
    assert f"{path}:8:5" in text and "unknown key" in text and "strength" in text


@pytest.mark.parametrize(("claim", "expected"), [
    ("    mitigation: {id: M1018}\n", "M1018 is a policy/hardening mitigation"),
    ("    techniques: [T1059.004]\n    platforms: [Windows]\n", "not on the claim's platforms Windows"),
    ("    techniques: [T1190]\n    requires: turbo\n", "requires unknown setting 'turbo'"),
    ("    mitigation: {id: M1031, only: [T1190]}\n", "T1190 is not mitigated by M1031"),
    ("    techniques: [T1190]\n    platforms: [Windoze]\n", "platform 'Windoze' is not an ATT&CK"),
])
def test_bad_claims_are_errors_at_their_line(kb18: AttackKB, tmp_path: Path, claim: str, expected: str) -> None:
    path = _write(tmp_path, "policy_mitigations: [M1018]\ntypes:\n- type: edr\n  claims:\n"
                            "  - position: endpoint-execution\n" + claim +
                            "    strength: 1\n    evidence: [{attack: M1040}]\n")
    with pytest.raises(DetcovError) as err:
        load_blocking_catalog(kb18, [path])
    issue = next(i for i in err.value.issues if expected in i.message)
    assert issue.location is not None and issue.location.path == str(path) and issue.location.line == 7


def test_hardening_must_be_policy_and_evidence_is_required(kb18: AttackKB, tmp_path: Path) -> None:
    path = _write(tmp_path, "types:\n- type: waf\n  hardening:\n  - {mitigation: M1031, evidence: IPS}\n")
    with pytest.raises(DetcovError, match="M1031, which is not a policy mitigation"):
        load_blocking_catalog(kb18, [path])
    path = _write(tmp_path, "types:\n- type: waf\n  claims:\n  - {position: inbound-web, techniques: [T1190], "
                            "strength: 2, evidence: []}\n")
    with pytest.raises(DetcovError, match="evidence"):
        load_blocking_catalog(kb18, [path])


def test_user_file_adds_claims_and_missing_ids_are_issues(kb18: AttackKB, tmp_path: Path) -> None:
    path = _write(tmp_path, "types:\n- type: waf\n  claims:\n  - position: inbound-web\n    techniques: [T1505.003, "
                            "T9999]\n    strength: 1\n    evidence: [{vendor: 'F5 BIG-IP ASM: web shell upload "
                            "signatures'}]\n")
    bc = load_blocking_catalog(kb18, [path])
    assert "T1505.003" in bc.techniques("waf") and "T1190" in bc.techniques("waf")
    assert any("T9999" in i.message and i.location and i.location.line == 6 for i in bc.issues)


def test_mitigation_selector_narrows(kb18: AttackKB) -> None:
    ips = load_blocking_catalog(kb18).claims("ids-ips")[0]
    tactics = {t for tid in ips.techniques for t in kb18.technique(tid).tactics}  # type: ignore[union-attr]
    assert tactics <= {"command-and-control", "exfiltration", "lateral-movement", "discovery"}
    assert not {"T1573", "T1102", "T1029", "T1566.001"} & set(ips.techniques)
    assert "T1071.001" in ips.techniques


def test_cli_lists_and_explains(capsys: pytest.CaptureFixture[str], bundle18: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    code, out, _ = run_cli(capsys, "catalog", "blocking", "--attack", str(bundle18))
    assert code == 0 and "ngfw" in out and "M1018" in out and "14 device types" in out
    code, out, _ = run_cli(capsys, "catalog", "blocking", "waf", "--attack", str(bundle18))
    assert code == 0 and "T1190 Exploit Public-Facing Application" in out and "azure_web_application_firewall" in out
    code, _, err = run_cli(capsys, "catalog", "blocking", "wafx", "--attack", str(bundle18))
    assert code == 2 and "did you mean waf" in err and "Traceback" not in err


def test_mitigation_selector_only_except_and_platforms(kb18: AttackKB, tmp_path: Path) -> None:
    path = _write(tmp_path, "types:\n- type: ngfw\n  claims:\n  - position: perimeter\n    mitigation: {id: M1031, "
                            "only: [T1071.004, T1046, T1557.001], except: [T1046]}\n    platforms: [Linux]\n"
                            "    strength: 1\n    evidence: [{attack: M1031}]\n")
    added = load_blocking_catalog(kb18, [path]).claims("ngfw")[-1]
    assert added.techniques == ("T1071.004",)  # T1046 excepted; T1557.001 runs on Windows only
    assert added.platforms == ("Linux",) and added.evidence == "ATT&CK M1031 mitigation relationship text"
