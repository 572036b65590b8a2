"""Knowledge-base behaviour on small synthetic bundles (v17-style and v18-style)."""

from __future__ import annotations

import pytest
from stix_factory import build_bundle

from detcov.attack import AttackKB, IdStatus, Provenance
from detcov.attack.loader import parse_bundle
from detcov.attack.model import DetectionModel
from detcov.errors import DetcovError


@pytest.fixture(params=["v17", "v18"])
def kb(request: pytest.FixtureRequest) -> AttackKB:
    return AttackKB(parse_bundle(build_bundle(request.param), source="synthetic-attack-99.9.json", sha256="0" * 64))


def test_detection_model_is_read_from_the_bundle(kb: AttackKB) -> None:
    expected = DetectionModel.ANALYTICS if kb.data.strategies else DetectionModel.DATA_COMPONENTS
    assert kb.detection_model is expected
    assert kb.version == "99.9"  # from the file name


def test_tactics_come_from_the_matrix_in_its_order(kb: AttackKB) -> None:
    assert [t.shortname for t in kb.tactics] == ["defense-impairment", "stealth", "execution"]
    # technique tactics are ordered by the matrix, not by the bundle's kill_chain_phases order
    assert kb.technique("T1001").tactics == ("stealth", "execution")
    assert kb.tactic("attack.defense_impairment").id == "TA0003"
    assert kb.tactic("Stealth").id == "TA0002"


def test_subtechniques_and_parents(kb: AttackKB) -> None:
    sub = kb.technique("T1001.002")
    assert sub.is_subtechnique and sub.parent == "T1001"
    assert [s.id for s in kb.subtechniques("T1001")] == ["T1001.001", "T1001.002"]
    assert {t.id for t in kb.techniques(subtechniques=False)} == {"T1001", "T1002"}


def test_revoked_chain_and_deprecated(kb: AttackKB) -> None:
    r = kb.resolve(" attack.t9001 ")
    assert r.status is IdStatus.REVOKED
    assert r.chain == ("T9001", "T9002", "T1001.001") and r.current == "T1001.001"
    d = kb.resolve("T9003")
    assert d.status is IdStatus.DEPRECATED and d.current is None
    u = kb.resolve("T1001.009")
    assert u.status is IdStatus.UNKNOWN and u.suggestions[0] == "T1001"
    assert kb.resolve("not-an-id").status is IdStatus.INVALID
    assert kb.resolve("t1002").current == "T1002"
    assert {t.id for t in kb.techniques()} == {"T1001", "T1001.001", "T1001.002", "T1002"}


def test_group_routes_with_provenance(kb: AttackKB) -> None:
    uses = kb.techniques_of_group("G0001")
    routes = {(u.technique, u.provenance, u.via) for u in uses}
    assert routes == {
        ("T1001.001", Provenance.DIRECT, None),
        ("T1002", Provenance.SOFTWARE, "S0001"),
        ("T1001.002", Provenance.CAMPAIGN, "C0001"),
    }  # the use of deprecated T9003 is dropped
    assert kb.technique_ids_of_group("G0001", {Provenance.DIRECT}) == {"T1001.001"}
    assert set(kb.groups_using("T1002")) == {"G0001"}
    assert kb.group("bandit panda").id == "G0001"


def test_mitigations(kb: AttackKB) -> None:
    [m] = kb.mitigations_for("T1001.001")
    assert (m.mitigation, m.description) == ("M1001", "Use application control.")
    assert [x.technique for x in kb.techniques_mitigated_by("M1001")] == ["T1001.001"]


def test_visibility_per_platform(kb: AttackKB) -> None:
    proc = kb.data_component("Process Creation")
    assert proc is not None
    if kb.detection_model is DetectionModel.ANALYTICS:
        # v18: each analytic is credited on its own platform only
        assert {r.log_source.name for r in kb.detection_refs("T1001", "Linux") if r.log_source} == {"auditd:SYSCALL"}
        assert kb.data_components_for("T1001", "Windows") == {proc.stix_id, kb.data_component("DC0002").stix_id}
        assert [a.id for a in kb.analytics_for("T1001", "Windows")] == ["AN0001"]
        assert kb.analytic("AN0001").mutable_elements[0].field == "TimeWindow"
        assert kb.log_source_name("winEVENTlog:sysmon") == "WinEventLog:Sysmon"
    else:
        assert kb.data_components_for("T1001", "Linux") == {proc.stix_id}
        assert kb.data_component("Process: Process Creation") == proc
        assert kb.detection_refs("T1001.001", "Windows")[0].analytic is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: {"objects": []}, "not a STIX bundle"),
        (lambda b: [1, 2, 3], "not a STIX bundle"),
        (lambda b: {**b, "objects": [o for o in b["objects"] if o["type"] != "x-mitre-matrix"]}, "no ATT&CK matrix"),
    ],
)
def test_bad_bundles_are_reported(mutate, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DetcovError) as exc:
        parse_bundle(mutate(build_bundle()), source="x.json", sha256="0")
    assert message in str(exc.value) and "x.json" in str(exc.value)


def test_mobile_bundle_where_enterprise_expected() -> None:
    with pytest.raises(DetcovError, match="mobile-attack, not enterprise-attack"):
        parse_bundle(build_bundle(domain="mobile-attack"), source="m.json", sha256="0")
