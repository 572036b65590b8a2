"""The v18 ↔ v19+ crosswalk: the reviewed data file, the normaliser's answers and hints, every consumer (rules,
profiles, technique scores, validation, history, suggest) and the SigmaHQ corpus measured under 18.1."""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import shared_path

from detcov.apt_profiles.resolve import resolve_technique
from detcov.attack import AttackKB, IdStatus
from detcov.attack.crosswalk import load_crosswalk, parse_crosswalk
from detcov.coverage.detection import load_manual_scores
from detcov.coverage.validation import load_validation
from detcov.errors import DetcovError, IssueCollector, Location
from detcov.rules import read_rules
from detcov.rules.reader import other_release_issues
from detcov.rules.report import gate_failures

pytestmark = pytest.mark.attack_real


def _table() -> dict[str, Any]:
    ref = Path(__file__).resolve().parent.parent / "detcov" / "attack" / "crosswalk.yaml"
    data: dict[str, Any] = yaml.safe_load(ref.read_text(encoding="utf-8"))
    return data


def test_data_file_names_a_source_for_every_pair() -> None:
    cw = load_crosswalk()
    assert cw.older == "18.1" and cw.newer == "19.0"
    for pair in (*cw.pairs, *cw.tactics):
        assert pair.sources and set(pair.sources) <= set(cw.sources) and pair.evidence, pair
    assert set(cw.to_older) >= {"T1685", "T1685.001", "T1685.002", "T1685.004", "T1685.005", "T1685.006",
                                "T1686", "T1686.001", "T1686.003", "T1688", "T1689", "T1690", "T1684.001"}


@pytest.mark.parametrize(("change", "message"), [("two-to-older", "T1685 have more than one to-older pair"),
                                               ("unknown-source", "unknown sources X"),
                                               ("paired-and-unmatched", "T1685 are both paired")])
def test_data_file_is_checked(change: str, message: str) -> None:
    data = copy.deepcopy(_table())
    if change == "two-to-older":
        data["techniques"].append({**data["techniques"][1], "old": "T1562.006"})
    elif change == "unknown-source":
        data["techniques"][0]["sources"] = ["X"]
    else:
        data["no_equivalent"].append({"new": "T1685", "sources": ["S"], "evidence": "x"})
    with pytest.raises(DetcovError) as exc:
        parse_crosswalk(data, "crosswalk.yaml")
    assert message in str(exc.value) and str(exc.value).startswith("crosswalk.yaml: ")


def test_old_side_is_the_loaded_bundle(kb_any: AttackKB) -> None:
    """Every old id exists in 17.1 and 18.1 under the name the table gives; no new id is in them (but T1647)."""
    for pair in load_crosswalk().pairs:
        technique = kb_any.technique(pair.old)
        assert technique is not None and technique.name == pair.old_name, pair.old
        assert kb_any.technique(pair.new) is None or pair.new == "T1647"


def test_v19_ids_count_under_their_v18_equivalent(kb_any: AttackKB) -> None:
    for new, pair in load_crosswalk().to_older.items():
        res = kb_any.resolve(f"attack.{new.lower()}")
        assert res.status is IdStatus.CROSSWALKED and res.current == pair.old and res.chain == (new, pair.old)
        assert res.usable and res.release == "v19+" and not res.suggestions
    assert kb_any.resolve("T1685.005").note == (
        f"T1685.005 is an ATT&CK v19+ id, newer than the loaded {kb_any.version}; counted as T1070.001 here")


def test_ids_without_equivalent_get_a_reason_and_no_unrelated_ids(kb18: AttackKB) -> None:
    listed = kb18.resolve("T1686.002")
    assert listed.status is IdStatus.UNKNOWN and listed.current is None and not listed.suggestions
    assert listed.note.startswith("T1686.002 is an ATT&CK v19+ id, newer than the loaded 18.1, with no known "
                                  "equivalent here")
    assert "T1686 counts as T1562.004" in listed.note  # the parent's equivalent, as a hint for the author
    beyond = kb18.resolve("T1699.001")
    assert not beyond.suggestions and beyond.release == "newer"
    assert "numbered past every technique of the loaded 18.1" in beyond.note and "T16" not in beyond.note[9:]
    typo = kb18.resolve("T1059.099")  # an id in the loaded range keeps its "closest" suggestions
    assert typo.status is IdStatus.UNKNOWN and typo.release is None and "T1059" in typo.suggestions


def test_tactics_cross(kb18: AttackKB) -> None:
    for tag in ("attack.stealth", "attack.defense-impairment", "attack.defense_impairment", "TA0112"):
        assert kb18.tactic(tag) is not None and kb18.tactic(tag).shortname == "defense-evasion", tag  # type: ignore[union-attr]


def test_profiles_scores_and_validation_see_the_crosswalk(kb18: AttackKB, tmp_path: Path) -> None:
    issues = IssueCollector()
    assert resolve_technique(kb18, "T1685.005", Location("p.yaml", 3), issues) == "T1070.001"
    assert [i.severity.value for i in issues] == ["warning"] and "v19+" in issues.issues[0].message
    scores = tmp_path / "technique-scores.yaml"
    scores.write_text(yaml.safe_dump({
        "version": 1.2, "file_type": "technique-administration", "name": "x", "domain": "enterprise-attack",
        "platform": ["Windows"], "techniques": [{"technique_id": "T1685", "detection": {
            "applicable_to": ["all"], "score_logbook": [{"date": "2026-01-01", "score": 3}]}}]}), encoding="utf-8")
    manual, warnings = load_manual_scores(scores, kb18)
    assert set(manual) == {"T1562.001"} and "counted as T1562.001" in warnings[0].message
    csv = tmp_path / "validation.csv"
    csv.write_text("technique,test,date,detected,blocked\nT1685.001,wevtutil sl,2026-01-02,yes,no\n", encoding="utf-8")
    results, _ = load_validation(csv, kb18)
    assert [r.technique for r in results] == ["T1562.002"]


RULE = """title: {title}
id: {title}
status: test
tags: [{tags}]
logsource: {{product: windows, category: process_creation}}
detection: {{selection: {{CommandLine|contains: x}}, condition: selection}}
"""


def test_unmatched_ids_are_reported_once_with_their_rules(kb18: AttackKB, tmp_path: Path) -> None:
    tagged = ("attack.t1686.002", "attack.t1686.002, attack.t1685", "attack.t1686.002", "attack.t1699")
    for n, tags in enumerate(tagged):
        (tmp_path / f"r{n}.yml").write_text(RULE.format(title=f"rule {n}", tags=tags), encoding="utf-8")
    rs = read_rules(tmp_path, kb18)
    grouped = other_release_issues(rs)
    assert len(grouped) == 2 and all(i.severity.value == "warning" for i in grouped)
    first = str(grouped[0])
    assert first.startswith("T1686.002 is an ATT&CK v19+ id") and "not counted in 3 rules" in first
    assert all(f"rule {n}" in first for n in range(3)) and "T1699 is numbered past" in str(grouped[1])
    assert gate_failures(rs, None, ["unknown"]) == [  # crosswalked ids are no failure of the unknown gate
        "4 technique references are unknown, deprecated or invalid in this ATT&CK version"]


def test_sigmahq_corpus_under_18_loses_no_v19_rule(kb18: AttackKB) -> None:
    """Measured on the shared SigmaHQ snapshot (8eaafff): 231 v19 tags in 224 rules. Before the crosswalk only the 40
    rules that also carried a v18 tag counted; now 222 count and the 2 others are reported with their reason."""
    rs = read_rules(shared_path("rules-corpora", "sigma", "rules"), kb18)
    tags = [(rule, res) for rule in rs.rules for res in rule.techniques if res.release]
    carrying = {rule.id: rule for rule, _ in tags}
    before = [r for r in carrying.values()
              if any(res.usable and res.status is not IdStatus.CROSSWALKED for res in r.techniques)]
    counted = [r for r in carrying.values() if r.technique_ids]
    reported = other_release_issues(rs)
    reported_rules = {r.id for res, rules in rs.other_release_ids().values() for r in rules}
    assert (len(tags), len(carrying), len(before), len(counted)) == (231, 224, 40, 222)
    assert Counter(res.status for _, res in tags) == {IdStatus.CROSSWALKED: 229, IdStatus.UNKNOWN: 2}
    assert {r.id for r in carrying.values()} == {r.id for r in counted} | reported_rules  # none lost
    assert len(reported_rules - {r.id for r in counted}) == 2 and len(reported) == 1
    assert "T1686.002 is an ATT&CK v19+ id" in str(reported[0]) and "2 rules" in str(reported[0])
