"""Evidence-grade scores: what a failed test disproves, what depth a rule set really has, what data quality caps,
and the per-group effects on the demo bank (crown jewels are never hidden behind the best group)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from detcov.coverage.detection import auto_score, independent_sources, rule_points, score_group
from detcov.coverage.engine import ScanResult, run_scan
from detcov.coverage.gaps import GapClass, priority
from detcov.coverage.scope import Evidence
from detcov.coverage.validation import assess_cells
from detcov.datasources.inventory import DataQuality, Device, quality_cap
from detcov.errors import Location
from detcov.rules import HealthOutcome, Rule, RuleFormat, RuleHealth, RuleStatus
from detcov.rules.health import GroupHealth
from detcov.simulations import TestResult

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo-bank"


def _result(test: str, date: str, detected: bool | None, blocked: bool | None = None,
            group: str = "Servers") -> TestResult:
    return TestResult("T1053.005", test, date, detected, blocked, f"v.csv:{date}", system_group=group)


def _place(r: TestResult) -> tuple[str, ...]:
    return (r.system_group,) if r.system_group else ("Servers", "Workstations")


def test_newest_run_of_a_test_decides_and_a_failure_disproves() -> None:
    one = assess_cells([_result("schtasks", "2025-11-13", False, False)], _place, "2025-01-01")
    cell = one[("T1053.005", "Servers")]
    assert cell.detection is Evidence.DISPROVED and cell.blocking is Evidence.DISPROVED and cell.contradicted
    fixed = assess_cells([_result("schtasks", "2025-11-13", False), _result("schtasks", "2025-12-02", True)],
                         _place, "2025-01-01")
    assert fixed[("T1053.005", "Servers")].detection is Evidence.PROVEN  # a newer pass lifts the cap
    other = assess_cells([_result("schtasks", "2025-12-02", True), _result("at.exe", "2025-11-01", False)],
                         _place, "2025-01-01")
    assert other[("T1053.005", "Servers")].detection is Evidence.DISPROVED  # another procedure still fails
    stale = assess_cells([_result("schtasks", "2023-05-01", True)], _place, "2025-01-01")
    assert stale[("T1053.005", "Servers")].detection is Evidence.CLAIMED  # outside the validation window
    silent = assess_cells([_result("schtasks", "2025-11-13", None)], _place, "2025-01-01")
    assert silent[("T1053.005", "Servers")].detection is Evidence.NONE  # no outcome recorded: proves nothing
    unscoped = assess_cells([replace(_result("schtasks", "2025-11-13", False), system_group=None)], _place,
                            "2025-01-01")
    assert set(unscoped) == {("T1053.005", "Servers"), ("T1053.005", "Workstations")}


def _rule(rid: str, techniques: tuple[str, ...] = ("T1059.001",), status: RuleStatus = RuleStatus.ENABLED,
          severity: str = "high") -> Rule:
    from detcov.attack import IdResolution, IdStatus

    res = tuple(IdResolution(raw=t, id=t, status=IdStatus.CURRENT, current=t) for t in techniques)
    return Rule(format=RuleFormat.SIGMA, location=Location(f"{rid}.yml"), id=rid, title=rid, status=status,
                severity=severity, techniques=res)


def _healthy(rule: Rule, devices: tuple[str, ...], group: str = "Servers") -> RuleHealth:
    gh = GroupHealth(group, "splunk", HealthOutcome.HEALTHY, "ok", devices=devices)
    return RuleHealth(rule, HealthOutcome.HEALTHY, "ok", groups=(gh,))


def test_detection_depth_counts_independent_devices_not_labels_or_severity() -> None:
    one = _healthy(_rule("a"), ("Sysmon",))
    assert rule_points(one) == 2  # severity high adds nothing
    assert auto_score([(one, one.groups[0])])[0] == 2
    same_device = _healthy(_rule("b"), ("Sysmon",))  # Sysmon under another log-source label
    assert auto_score([(one, one.groups[0]), (same_device, same_device.groups[0])])[0] == 2
    other = _healthy(_rule("c"), ("EDR",))
    assert auto_score([(one, one.groups[0]), (other, other.groups[0])])[0] == 3
    assert independent_sources([("Sysmon", "EDR"), ("Sysmon",)]) == ("Sysmon", "EDR")  # each rule counts once
    broad = _healthy(_rule("d", ("T1059.001", "T1003", "T1055", "T1105", "T1027")), ("EDR",))
    assert rule_points(broad) == 1  # a rule tagged with 5 techniques is weak evidence for each
    parent_and_sub = _healthy(_rule("e", ("T1059", "T1059.001", "T1059.003", "T1003")), ("EDR",))
    assert rule_points(parent_and_sub) == 2  # a parent next to its sub-technique is one technique


def test_unverified_rules_never_detect() -> None:
    rule = _rule("ml")
    gh = GroupHealth("Servers", "elastic", HealthOutcome.UNVERIFIED, "ML job: the SIEM declares none")
    score = score_group("T1059.001", "Servers", [RuleHealth(rule, HealthOutcome.UNVERIFIED, "x", groups=(gh,))],
                        None)
    assert score.score == -1 and score.unverified and "never counted" in score.explanation


def test_a_failed_critical_data_quality_dimension_caps() -> None:
    base = {"name": "EDR", "type": "edr", "applicable_to": ("Servers",)}
    good = DataQuality(device_completeness=5, data_field_completeness=5, timeliness=5, consistency=5, retention=5)
    assert quality_cap(Device(**base, data_quality=good), 365) == (1.0, "")
    short = Device(**base, data_quality=good, retention_days=180)
    cap, why = quality_cap(short, 365)
    assert cap == 0.5 and "180 days < required 365" in why
    assert quality_cap(Device(**base, data_quality=good, retention_days=300), 365)[0] == 0.75
    poor = good.model_copy(update={"device_completeness": 1})
    assert quality_cap(Device(**base, data_quality=poor), None)[0] == 0.25
    band3 = good.model_copy(update={"retention": 3})
    assert quality_cap(Device(**base, data_quality=band3), None)[0] == 0.5


def test_priority_takes_criticality_and_forced_bank_techniques_rank_high() -> None:
    assert priority(10, GapClass.BLIND, -1, 5) == 10 and priority(10, GapClass.BLIND, -1, 3) == 6
    assert priority(10, GapClass.CONTRADICTED, 1, 5) == priority(10, GapClass.BROKEN, -1, 5)


# ----- the demo bank ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(bundle18: Path) -> ScanResult:
    return run_scan(DEMO / "detcov.yaml", attack_path=bundle18)


@pytest.mark.attack_real
def test_crown_jewels_are_not_hidden_behind_the_best_group(demo: ScanResult) -> None:
    """T1486: visible on the Windows servers, blind on Linux core banking — the headline says core banking."""
    core = demo.cells[("T1486", "Core banking")]
    servers = demo.cells[("T1486", "Windows servers")]
    assert servers.visibility >= 3 and core.visibility == 0 and core.gap is GapClass.BLIND
    gap = next(g for g in demo.gaps if g.technique == "T1486")
    assert gap.criticality == 5 and gap.gap is GapClass.BLIND and demo.visibility["T1486"].score == 0
    assert any(s.startswith("Core banking: blind") for s in gap.groups)


@pytest.mark.attack_real
def test_exposure_and_platform_decide_where_a_technique_applies(demo: ScanResult) -> None:
    assert not demo.cells[("T1190", "Windows workstations")].applicable  # not internet-facing
    assert demo.cells[("T1190", "Internet banking")].applicable
    network, linux = demo.cells[("T1059.004", "Network")], demo.cells[("T1059.004", "Linux servers")]
    assert network.visibility > linux.visibility  # router CLI logs do not light up Linux hosts
    assert "Routers and switches" in network.visibility_text and "Routers and switches" not in linux.visibility_text
    assert demo.visibility["T1059.004"].group != "Network"


@pytest.mark.attack_real
def test_forced_bank_techniques_outrank_discovery_noise(demo: ScanResult) -> None:
    """Like against like: a forced bank technique never ranks below a discovery technique with the same gap in a
    group of the same criticality (before: T1565.002 SWIFT message tampering ranked 100th, behind whoami)."""
    rank = {g.technique: i for i, g in enumerate(demo.gaps)}
    forced = {t for t, w in demo.weights.items() if w.forced is not None}
    open_classes = {GapClass.BLIND, GapClass.RULE_GAP, GapClass.BROKEN, GapClass.CONTRADICTED}
    discovery = [g for g in demo.gaps if "discovery" in g.tactics and g.gap in open_classes]
    checked = 0
    for f in (g for g in demo.gaps if g.technique in forced and g.gap in open_classes):
        for d in discovery:
            if d.gap is f.gap and d.criticality == f.criticality:
                assert rank[f.technique] < rank[d.technique], (f.technique, d.technique)
                checked += 1
    assert checked > 10 and rank["T1565.002"] < rank["T1033"] and rank["T1565.002"] < 10


@pytest.mark.attack_real
def test_failed_tests_change_scores_and_gap_classes(demo: ScanResult, bundle18: Path, tmp_path: Path) -> None:
    schtasks = demo.cells[("T1053.005", "Windows servers")]  # validation.csv:5, not detected, not blocked
    assert schtasks.detection_evidence is Evidence.DISPROVED and schtasks.detection <= 1
    assert schtasks.gap is GapClass.CONTRADICTED
    phishing = demo.cells[("T1566.001", "Windows workstations")]  # blocked by the gateway, no SIEM alert
    assert phishing.blocking_evidence is Evidence.PROVEN and phishing.detection <= 1
    # without the simulations the same cells are only claimed
    config = (DEMO / "detcov.yaml").read_text(encoding="utf-8")
    head, tail = config.split("validation:", 1)
    tail = tail.split("validation_window_days:", 1)[1]
    (tmp_path / "detcov.yaml").write_text(
        (head + "validation_window_days:" + tail).replace("inventory: inventory.yaml",
                                                          f"inventory: {DEMO / 'inventory.yaml'}")
        .replace("technique-scores.yaml", str(DEMO / "technique-scores.yaml")).replace("rules/", f"{DEMO}/rules/"),
        encoding="utf-8")
    untested = run_scan(tmp_path / "detcov.yaml", attack_path=bundle18)
    before = untested.cells[("T1053.005", "Windows servers")]
    assert before.detection_evidence is Evidence.CLAIMED and before.detection > schtasks.detection
    assert before.gap is GapClass.DETECTED
    kpis, base = demo.summary.kpis, untested.summary.kpis
    assert base.validated.covered == 0 < kpis.validated.covered
    assert kpis.detection.covered < base.detection.covered  # disproved claims no longer count


@pytest.mark.attack_real
def test_blocking_is_explained_claim_by_claim(demo: ScanResult) -> None:
    for (tid, group), cell in demo.cells.items():
        if cell.blocking:
            assert "strongest claim" in cell.blocking_text and "[" in cell.blocking_text, (tid, group)
    assert not any(c.blocking for (t, g), c in demo.cells.items() if t == "T1071.004" and g == "Internet banking"
                   and "waf" in c.blocking_text.lower())
    policy = {h.mitigation for h in demo.summary.hardening}
    assert "M1018" in policy  # AD account management is hardening, not blocking


def test_subtechnique_credit_is_one_direction_and_partial() -> None:
    from detcov.coverage.detection import by_technique, derived_credit

    sub = _healthy(_rule("sub", ("T1059.001",)), ("EDR",))
    parent = _healthy(_rule("parent", ("T1059",)), ("Sysmon",))
    rules = by_technique([sub, parent])
    assert derived_credit(rules, "none") == {}
    up = derived_credit(rules, "sub-to-parent")
    assert [h.rule.id for h in up["T1059"]] == ["sub"] and "T1059.001" not in up
    down = derived_credit(rules, "parent-to-sub")
    assert [h.rule.id for h in down["T1059.001"]] == ["parent"] and "T1059" not in down
    alone = score_group("T1059", "Servers", [], None, up["T1059"])
    assert alone.score == 1 and "via T1059.001" in alone.explanation  # partial credit, never more than 1
    own = score_group("T1059", "Servers", [parent], None, up["T1059"])
    assert own.score == 2  # its own rule decides; the derived one adds no depth
