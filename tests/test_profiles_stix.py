"""STIX 2.x threat-intel bundles (built here with the stix2 library) imported as profiles."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import stix2

from detcov.apt_profiles import GroupKind, WeightOptions, load_profile
from detcov.attack import AttackKB
from detcov.attack.model import Provenance
from detcov.errors import DetcovError


def _ap(tid: str | None, name: str) -> stix2.AttackPattern:
    source = "mitre-attack" if tid else "vendor"
    refs = [{"source_name": source, "external_id": tid or "X1"}]
    return stix2.AttackPattern(name=name, external_references=refs)


def _uses(src: object, dst: object, modified: str) -> stix2.Relationship:
    return stix2.Relationship(src, "uses", dst, created="2019-01-01T00:00:00Z", modified=modified)


def _bundle(tmp_path: Path) -> Path:
    phishing, theft = _ap("T1566.001", "Spearphishing Attachment"), _ap("T1657", "Financial Theft")
    ingress, exploit = _ap("T1105", "Ingress Tool Transfer"), _ap("T1190", "Exploit")
    revoked, unknown = _ap("T1086", "PowerShell (old)"), _ap("T9999", "future")
    custom = _ap(None, "vendor-only")
    crew = stix2.IntrusionSet(name="Bank Heist Crew", aliases=["BHC"])
    apt38 = stix2.IntrusionSet(name="BeagleBoyz", external_references=[
        {"source_name": "mitre-attack", "external_id": "G0082"}])
    carbanak = stix2.Malware(name="Carbanak", is_family=True, external_references=[
        {"source_name": "mitre-attack", "external_id": "S0030"}])
    loader = stix2.Tool(name="custom-loader")
    campaign = stix2.Campaign(name="Operation Wire")
    lonely = stix2.Campaign(name="Unattributed spree")
    objects = [
        phishing, theft, ingress, exploit, revoked, unknown, custom,
        crew, apt38, carbanak, loader, campaign, lonely,
        _uses(crew, phishing, "2020-01-01T00:00:00Z"), _uses(crew, theft, "2024-01-01T00:00:00Z"),
        _uses(crew, revoked, "2024-01-01T00:00:00Z"), _uses(crew, unknown, "2024-01-01T00:00:00Z"),
        _uses(crew, custom, "2024-01-01T00:00:00Z"),
        _uses(crew, carbanak, "2024-01-01T00:00:00Z"), _uses(crew, loader, "2024-01-01T00:00:00Z"),
        _uses(loader, ingress, "2023-01-01T00:00:00Z"),
        stix2.Relationship(campaign, "attributed-to", crew), _uses(campaign, exploit, "2024-01-01T00:00:00Z"),
        _uses(lonely, theft, "2024-01-01T00:00:00Z"),
    ]
    path = tmp_path / "intel.json"
    path.write_text(stix2.Bundle(objects=objects).serialize(), encoding="utf-8")
    return path


def test_stix_bundle_import(tmp_path: Path, kb18: AttackKB) -> None:
    p = load_profile(_bundle(tmp_path), kb18)
    assert [g.name for g in p.groups] == ["Bank Heist Crew", "APT38", "Unattributed spree"]
    crew, apt38, lonely = p.groups
    assert crew.kind is GroupKind.CUSTOM and crew.aliases == ("BHC",)
    assert crew.technique_ids((Provenance.DIRECT,)) == {"T1566.001", "T1657", "T1059.001"}
    carbanak = {u.target for u in kb18.techniques_of_software("S0030")}
    assert crew.technique_ids((Provenance.SOFTWARE,)) == carbanak | {"T1105"}
    assert crew.technique_ids((Provenance.CAMPAIGN,)) == {"T1190"}
    assert apt38.kind is GroupKind.ATTACK and apt38.key == "G0082"
    assert apt38.technique_ids() == kb18.technique_ids_of_group("G0082")
    assert lonely.technique_ids() == {"T1657"}
    messages = " | ".join(i.message for i in p.issues)
    assert "T1086 is revoked" in messages and "T9999" in messages and "no ATT&CK id" in messages
    assert all(i.severity.value == "warning" for i in p.issues)


def test_stix_recency_uses_relationship_dates(tmp_path: Path, kb18: AttackKB) -> None:
    p = load_profile(_bundle(tmp_path), kb18)
    w = p.weights(kb18, WeightOptions(recency_half_life=2.0, reference_date=date(2024, 1, 1)))
    # the crew's spearphishing relationship is 4 years (1461 days) old: two half-lives
    by_group = {c.group: c.weight for c in w["T1566.001"].contributions}
    assert by_group["Bank Heist Crew"] == pytest.approx(0.25)
    assert w["T1566.001"].weight == pytest.approx(sum(by_group.values()))
    theft = {c.group: c.weight for c in w["T1657"].contributions}
    assert theft["Bank Heist Crew"] == theft["Unattributed spree"] == pytest.approx(1.0)  # dated 2024-01-01


def test_stix_21_and_20_parse(tmp_path: Path, kb18: AttackKB) -> None:
    ap = stix2.v20.AttackPattern(name="Phishing", external_references=[
        {"source_name": "mitre-attack", "external_id": "T1566"}])
    actor = stix2.v20.IntrusionSet(name="Old Feed Actor")
    bundle = stix2.v20.Bundle(objects=[ap, actor, stix2.v20.Relationship(actor, "uses", ap)])
    path = tmp_path / "old.json"
    path.write_text(bundle.serialize(), encoding="utf-8")
    p = load_profile(path, kb18)
    assert p.groups[0].technique_ids() == {"T1566"}


@pytest.mark.parametrize("content", [
    '{"type": "indicator"}',
    '{"type": "bundle", "id": "bundle--1", "objects": [{"type": "relationship"}]}',
    "not json",
])
def test_bad_stix_input(tmp_path: Path, kb18: AttackKB, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DetcovError) as exc:
        load_profile(path, kb18)
    assert str(path) in str(exc.value)


def test_bundle_without_usable_actor(tmp_path: Path, kb18: AttackKB) -> None:
    actor = stix2.IntrusionSet(name="Empty")
    path = tmp_path / "empty.json"
    path.write_text(json.dumps(json.loads(stix2.Bundle(objects=[actor]).serialize())), encoding="utf-8")
    with pytest.raises(DetcovError) as exc:
        load_profile(path, kb18)
    assert "no actor" in str(exc.value)
