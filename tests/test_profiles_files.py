"""User profile files (apt-profile YAML, DeTT&CT group-administration YAML); bad input at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import shared_path

from detcov.apt_profiles import GroupKind, load_profile, load_profile_or_group
from detcov.attack import AttackKB
from detcov.attack.model import Provenance
from detcov.errors import DetcovError, Severity

GOOD = """\
version: 1
file_type: apt-profile
name: my-bank
title: My bank's threats
include: [taiwan-financial]
groups:
  - FIN7
  - Anunak            # alias of Carbanak
  - id: G0058         # revoked: Charming Kitten -> Magic Hound
  - id: G0082
    name: Bluenoroff
    weight: 2
actors:
  - name: F-ISAC bulletin 2025-07
    source: F-ISAC TLP:AMBER 2025-07
    techniques:
      - T1566.002
      - {id: T1657, weight: 3, note: wire fraud}
      - T1086        # revoked -> T1059.001
    software: [S0002]
  - name: Vendor report
    techniques: {T1190: 2, t1133: 1}
techniques:
  - {id: T1565.002, weight: 4, note: SWIFT message tampering}
"""


def _write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_custom_profile(tmp_path: Path, kb18: AttackKB) -> None:
    p = load_profile(_write(tmp_path, GOOD), kb18)
    assert p.name == "my-bank" and p.title == "My bank's threats"
    keys = [g.key for g in p.groups]
    assert keys[:4] == ["G0046", "G0008", "G0059", "G0082"]
    assert {"G0098", "G0096", "G1006", "G0081", "G0131"} <= set(keys)  # included
    assert p.group("G0082") is not None and p.group("G0082").weight == 2
    bulletin = p.group("F-ISAC bulletin 2025-07")
    assert bulletin is not None and bulletin.kind is GroupKind.CUSTOM
    direct = {u.technique: u.weight for u in bulletin.uses if u.provenance is Provenance.DIRECT}
    assert direct == {"T1566.002": 1.0, "T1657": 3.0, "T1059.001": 1.0}
    mimikatz = {u.target for u in kb18.techniques_of_software("S0002")}
    assert bulletin.technique_ids((Provenance.SOFTWARE,)) == mimikatz
    vendor = p.group("Vendor report")
    assert vendor is not None and {u.technique: u.weight for u in vendor.uses} == {"T1190": 2.0, "T1133": 1.0}
    assert {f.technique: f.weight for f in p.forced}["T1565.002"] == 4
    warnings = [str(i) for i in p.issues]
    assert all(i.severity is Severity.WARNING for i in p.issues)
    assert any("G0058" in w and "revoked" in w for w in warnings)
    assert any("T1086" in w and f":{_line_of(GOOD, 'T1086')}:" in w for w in warnings)
    weights = p.weights(kb18)
    assert weights["T1657"].weight >= 3.0 and "F-ISAC bulletin 2025-07" in weights["T1657"].groups


BAD = """\
version: 1
file_type: apt-profile
groups:
  - FIN-7
  - G9999
  - id: G0046
    weight: heavy
actors:
  - name: crew
    techniques: [T1566.001, T9999, T1059.999, not-an-id]
    colour: red
techniques:
  - id: T1657
    weight: -1
"""


def test_bad_profile_reports_every_issue_with_file_line(tmp_path: Path, kb18: AttackKB) -> None:
    path = _write(tmp_path, BAD)
    with pytest.raises(DetcovError) as exc:
        load_profile(path, kb18)
    text = [str(i) for i in exc.value.issues]
    # validation errors (types, unknown keys) come first, all together
    assert any(f"p.yaml:{_line_of(BAD, 'heavy')}:" in t and "weight" in t for t in text)
    assert any(f"p.yaml:{_line_of(BAD, 'colour')}:" in t and "unknown key" in t for t in text)
    assert any(f"p.yaml:{_line_of(BAD, 'weight: -1')}:" in t for t in text)


def test_unknown_groups_and_techniques_report_file_line(tmp_path: Path, kb18: AttackKB) -> None:
    text = BAD.replace("    weight: heavy\n", "").replace("    colour: red\n", "")
    text = text.replace("weight: -1", "weight: 1")
    with pytest.raises(DetcovError) as exc:
        load_profile(_write(tmp_path, text), kb18)
    issues = [str(i) for i in exc.value.issues]
    assert len(issues) == 5, issues
    expect = {"FIN-7": "did you mean G0046 FIN7", "G9999": "not in ATT&CK 18.1", "T9999": "T9999",
              "T1059.999": "T1059.999", "not-an-id": "not-an-id"}
    for needle, message in expect.items():
        line = _line_of(text, needle)
        assert any(f"p.yaml:{line}:" in i and message in i for i in issues), (needle, issues)


def test_group_missing_from_older_attack_is_reported(tmp_path: Path, kb17: AttackKB, kb18: AttackKB) -> None:
    text = "version: 1\nfile_type: apt-profile\ngroups:\n  - FIN7\n  - G1053   # Storm-0501, new in v18\n"
    path = _write(tmp_path, text)
    assert load_profile(path, kb18).group_ids == ("G0046", "G1053")
    with pytest.raises(DetcovError) as exc:
        load_profile(path, kb17)
    assert [str(i).split(" — ")[0] for i in exc.value.issues] == [
        f"{path}:5:5: group G1053 is not in ATT&CK 17.1"]


def test_renamed_group_and_stale_quote_warn(tmp_path: Path, kb18: AttackKB) -> None:
    text = ("version: 1\nfile_type: apt-profile\ngroups:\n  - id: G0046\n    name: Carbanak\n"
            "    quotes: [this sentence is not in the description]\n")
    p = load_profile(_write(tmp_path, text), kb18)
    messages = [i.message for i in p.issues]
    assert any("called 'FIN7'" in m for m in messages)
    assert any("quote not found" in m for m in messages)
    assert p.groups[0].quotes == ()


@pytest.mark.parametrize(("text", "expected"), [
    ("version: 1\nfile_type: technique-administration\n", "file_type is 'technique-administration'"),
    ("version: 7\nfile_type: apt-profile\n", "version 7 is not supported"),
    ("- just\n- a list\n", "must be a YAML mapping"),
    ("version: 1\nfile_type: apt-profile\ngroups: [FIN7\n", "invalid YAML"),
])
def test_wrong_files(tmp_path: Path, kb18: AttackKB, text: str, expected: str) -> None:
    with pytest.raises(DetcovError) as exc:
        load_profile(_write(tmp_path, text), kb18)
    assert expected in str(exc.value)


def test_circular_include(tmp_path: Path, kb18: AttackKB) -> None:
    _write(tmp_path, "version: 1\nfile_type: apt-profile\ninclude: [b.yaml]\ngroups: [FIN7]\n", "a.yaml")
    _write(tmp_path, "version: 1\nfile_type: apt-profile\ninclude: [a.yaml]\ngroups: [FIN8]\n", "b.yaml")
    with pytest.raises(DetcovError) as exc:
        load_profile(tmp_path / "a.yaml", kb18)
    assert "includes itself" in str(exc.value) and "a.yaml:3:" in str(exc.value)


def test_unknown_name_and_group_fallback(kb18: AttackKB) -> None:
    with pytest.raises(DetcovError) as exc:
        load_profile("no-such-profile", kb18)
    assert "financial-sector" in str(exc.value)
    one = load_profile_or_group("Sangria Tempest", kb18)  # FIN7 alias
    assert one.group_ids == ("G0046",)
    assert one.technique_ids() == kb18.technique_ids_of_group("G0046")


def test_dettect_sample_groups_file(kb_any: AttackKB) -> None:
    path = shared_path("dettect-samples", "groups.yaml")
    p = load_profile(path, kb_any)
    assert [g.name for g in p.groups] == ["Red team"]  # the second entry is disabled
    red = p.groups[0]
    assert red.kind is GroupKind.CUSTOM
    assert len(red.technique_ids((Provenance.DIRECT,))) == 21
    mimikatz = {u.target for u in kb_any.techniques_of_software("S0002")}
    assert red.technique_ids((Provenance.SOFTWARE,)) == mimikatz
    assert p.platforms == ("Windows", "Identity Provider")
    assert any(i.severity is Severity.INFO and "disabled" in i.message for i in p.issues)


DETTECT = """\
%YAML 1.2
---
version: 1.0
file_type: group-administration
platform: [Windows]
groups:
  - group_name: Report 2020
    campaign: Overall
    technique_id: {T1086: 12, T1105: 9, T1055: 17}
    software_id: []
    enabled: True
  - group_name: Report 2020
    campaign: Finance
    technique_id: {T1086: 28, T1003: 50}
    enabled: True
"""


def test_dettect_weights_and_revoked_ids(tmp_path: Path, kb18: AttackKB) -> None:
    p = load_profile(_write(tmp_path, DETTECT), kb18)
    (group,) = p.groups
    expected = {"T1059.001": 28, "T1105": 9, "T1055": 17, "T1003": 50}
    assert {u.technique: u.weight for u in group.uses} == expected
    assert any("T1086" in i.message for i in p.issues)
    weights = p.weights(kb18)
    assert weights["T1003"].weight == 50 and weights["T1059.001"].weight == 28


def test_dettect_bad_entry_has_line(tmp_path: Path, kb18: AttackKB) -> None:
    text = DETTECT.replace("T1003: 50", "T1003: 50, T9999: 1")
    text = text.replace("    enabled: True\n", "    enabled: maybe\n", 1)
    with pytest.raises(DetcovError) as exc:
        load_profile(_write(tmp_path, text), kb18)
    assert f"p.yaml:{_line_of(text, 'maybe')}:" in str(exc.value)
