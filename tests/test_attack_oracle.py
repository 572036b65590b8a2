"""Oracle: the knowledge base agrees with mitreattack-python's MitreAttackData on both real bundles.

MitreAttackData takes ~10 s per bundle, so each bundle is loaded once per module (run with --dist loadfile).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from detcov.attack import AttackKB, Provenance
from detcov.attack.sources import load_attack

pytestmark = pytest.mark.attack_real


def _aid(obj: Any) -> str:
    return next(r["external_id"] for r in obj["external_references"] if r.get("source_name") == "mitre-attack")


@pytest.fixture(scope="module", params=["17.1", "18.1"])
def pair(request: pytest.FixtureRequest, bundle17: Path, bundle18: Path) -> tuple[AttackKB, Any]:
    from mitreattack.stix20 import MitreAttackData

    path = bundle17 if request.param == "17.1" else bundle18
    return load_attack(path), MitreAttackData(str(path))


def test_technique_ids(pair: tuple[AttackKB, Any]) -> None:
    kb, mad = pair
    theirs = {_aid(t) for t in mad.get_techniques(remove_revoked_deprecated=True)}
    assert {t.id for t in kb.techniques()} == theirs
    assert len(theirs) > 600


def test_tactics_per_technique(pair: tuple[AttackKB, Any]) -> None:
    kb, mad = pair
    theirs: dict[str, set[str]] = defaultdict(set)
    for tactic in kb.tactics:  # get_tactics_by_technique costs 0.1 s a call: invert per tactic instead
        for t in mad.get_techniques_by_tactic(tactic.shortname, "enterprise-attack", remove_revoked_deprecated=True):
            theirs[_aid(t)].add(tactic.shortname)
    assert {t.id: set(t.tactics) for t in kb.techniques()} == dict(theirs)
    assert len(mad.get_tactics()) == len(kb.tactics)


def test_group_technique_sets(pair: tuple[AttackKB, Any]) -> None:
    """MitreAttackData's group → technique set is direct ∪ campaign-inherited; its software set is ours too."""
    kb, mad = pair
    theirs: dict[str, set[str]] = defaultdict(set)
    for group_stix, entries in mad.get_all_techniques_used_by_all_groups().items():
        group = mad.get_object_by_stix_id(group_stix)
        if group.get("revoked") or group.get("x_mitre_deprecated"):
            continue
        for entry in entries:
            tech = entry["object"]
            if not (tech.get("revoked") or tech.get("x_mitre_deprecated")):
                theirs[_aid(group)].add(_aid(tech))
    ours = {g.id: kb.technique_ids_of_group(g.id, {Provenance.DIRECT, Provenance.CAMPAIGN}) for g in kb.groups()}
    ours = {g: s for g, s in ours.items() if s}
    assert ours == dict(theirs)
    apt29 = kb.group("APT29").id
    software = {_aid(t) for t in mad.get_techniques_used_by_group_software(kb.group("APT29").stix_id)
                if not (t.get("revoked") or t.get("x_mitre_deprecated"))}
    assert kb.technique_ids_of_group(apt29, {Provenance.SOFTWARE}) == software


def test_mitigation_sets(pair: tuple[AttackKB, Any]) -> None:
    kb, mad = pair
    theirs: dict[str, set[str]] = defaultdict(set)
    for tech_stix, entries in mad.get_all_mitigations_mitigating_all_techniques().items():
        tech = mad.get_object_by_stix_id(tech_stix)
        if tech.get("revoked") or tech.get("x_mitre_deprecated"):
            continue
        for entry in entries:
            mit = entry["object"]
            if not (mit.get("revoked") or mit.get("x_mitre_deprecated")):
                theirs[_aid(tech)].add(_aid(mit))
    ours = {t.id: {m.mitigation for m in kb.mitigations_for(t.id)} for t in kb.techniques()}
    assert {t: s for t, s in ours.items() if s} == dict(theirs)
