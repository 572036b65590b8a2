"""Visibility scoring: hand-checked examples, analytic platforms, monotonicity (hypothesis), v17 and v18, CLI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detcov.attack import AttackKB
from detcov.datasources.catalog import load_catalog
from detcov.datasources.inventory import DataQuality, Device, Inventory, SystemGroup, load_inventory
from detcov.datasources.report import summarize_by_tactic, write_scores
from detcov.datasources.visibility import VisibilityScore, score_band, score_visibility
from tests.conftest import REPO

DEMO = REPO / "examples" / "demo-bank" / "inventory.yaml"
GOOD = DataQuality(device_completeness=4, data_field_completeness=4, timeliness=4, consistency=4, retention=5)
WS = SystemGroup(applicable_to="Workstations", platforms=("Windows",))


def _inv(*devices: Device, groups: tuple[SystemGroup, ...] = (WS,)) -> Inventory:
    return Inventory(name="t", system_groups=groups, devices=devices)


def _dev(name: str, type_: str | None = None, quality: DataQuality = GOOD, **kw: object) -> Device:
    return Device.model_validate({"name": name, "type": type_, "applicable_to": ["all"],
                                  "data_quality": quality, **kw})


def _one(scores: list[VisibilityScore], tid: str, group: str = "Workstations") -> VisibilityScore:
    return next(s for s in scores if s.technique == tid and s.system_group == group)


def test_sysmon_plus_windows_security_on_workstations_t1059_001(kb18: AttackKB) -> None:
    """T1059.001 (v18.1: one Windows analytic AN1252 needing Process Creation, Command Execution, Module Load,
    Process Metadata). Sysmon gives Process Creation, Module Load, Process Metadata; Windows Security with
    command-line auditing gives Command Execution: all four at full quality -> 100 % -> 4."""
    cat = load_catalog()
    needed = {kb18.data_component(d).stix_id for d in  # type: ignore[union-attr]
              ("Process Creation", "Command Execution", "Module Load", "Process Metadata")}
    assert {r.data_component for r in kb18.detection_refs("T1059.001", "Windows")} == needed
    both = _inv(_dev("Sysmon", "sysmon"), _dev("WinSec", "windows-security",
                                               settings={"command-line-auditing": True}))
    s = _one(score_visibility(kb18, both, cat), "T1059.001")
    assert s.score == 4 and s.coverage == pytest.approx(1.0)
    assert s.analytics == ("AN1252",)
    by_name = {c.label.split(" ", 1)[1]: c for c in s.components}
    assert by_name["Command Execution"].devices == ("WinSec",)
    assert set(by_name["Process Creation"].devices) == {"Sysmon", "WinSec"}
    assert "AN1252" in s.explain() and "missing" not in s.explain()
    # Without command-line auditing, 3 of 4 components: 75 % -> 3, and the explanation names what to add.
    no_cli = _inv(_dev("Sysmon", "sysmon"), _dev("WinSec", "windows-security",
                                                 settings={"command-line-auditing": False}))
    s2 = _one(score_visibility(kb18, no_cli, cat), "T1059.001")
    assert s2.score == 3 and s2.coverage == pytest.approx(0.75)
    assert [c.label for c in s2.missing] == ["DC0064 Command Execution"]
    assert "add: " in s2.explain() and "edr" in s2.missing[0].provided_by


def test_quality_weights_the_score(kb18: AttackKB) -> None:
    cat = load_catalog()
    fair = DataQuality(device_completeness=2, data_field_completeness=2, timeliness=2, consistency=2, retention=2)
    s = _one(score_visibility(kb18, _inv(_dev("EDR", "edr", fair)), cat), "T1059.001")
    assert s.coverage == pytest.approx(0.5) and s.score == 2  # DeTT&CT would say 4 (it ignores quality)


def test_analytic_credited_only_on_its_platform(kb18: AttackKB) -> None:
    """auditd delivers Process Creation on Linux; a Windows-only group gets nothing from it."""
    cat = load_catalog()
    lin = SystemGroup(applicable_to="Linux", platforms=("Linux",))
    inv = _inv(_dev("auditd", "linux-auditd"), groups=(WS, lin))
    scores = score_visibility(kb18, inv, cat)
    t1059_004 = _one(scores, "T1059.004", "Linux")
    assert t1059_004.score > 0 and all(a.platform == "Linux" for a in t1059_004.aspects)
    assert all(s.score == 0 for s in scores if s.system_group == "Workstations")


def test_not_in_siem_is_explained(kb18: AttackKB) -> None:
    cat = load_catalog()
    inv = load_inventory(DEMO, kb18, cat)
    s = _one(score_visibility(kb18, inv, cat), "T1486", "Linux servers")
    assert s.score == 0 and "Linux auditd" in s.explain() and "not in the SIEM" in s.explain()


def test_v17_scores_per_technique_components(kb17: AttackKB) -> None:
    cat = load_catalog()
    s = _one(score_visibility(kb17, _inv(_dev("Sysmon", "sysmon")), cat), "T1059.001")
    needed = kb17.data_components_for("T1059.001", "Windows")
    assert len(s.aspects) == 1 and s.aspects[0].analytic is None
    present = {c.component for c in s.present}
    assert present < needed
    assert s.coverage == pytest.approx(len(present) / len(needed))


def test_score_bands() -> None:
    assert [score_band(x) for x in (0, 0.01, 0.49, 0.5, 0.74, 0.75, 0.99, 1.0)] == [0, 1, 1, 2, 2, 3, 3, 4]


_TYPES = ("edr", "sysmon", "windows-security", "powershell", "linux-auditd", "ndr", "ngfw", "antivirus",
          "active-directory", "azure-entra-m365", "dns", "network-devices")
_GROUPS = (WS, SystemGroup(applicable_to="Linux", platforms=("Linux",)),
           SystemGroup(applicable_to="Cloud", platforms=("IaaS", "Office Suite", "Identity Provider")))
_device = st.builds(
    lambda t, q, g: (t, q, g), st.sampled_from(_TYPES), st.integers(0, 5),
    st.sampled_from(["all", "Workstations", "Linux", "Cloud"]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=st.lists(_device, max_size=5), extra=_device)
def test_adding_a_device_never_lowers_a_score(kb_any: AttackKB, base: list[tuple[str, int, str]],
                                              extra: tuple[str, int, str]) -> None:
    cat = load_catalog()

    def mk(i: int, spec: tuple[str, int, str]) -> Device:
        t, q, g = spec
        dq = DataQuality(device_completeness=q, data_field_completeness=q, timeliness=q, consistency=q, retention=q)
        return Device(name=f"d{i}", type=t, applicable_to=(g,), data_quality=dq)

    before = _inv(*(mk(i, d) for i, d in enumerate(base)), groups=_GROUPS)
    after = _inv(*before.devices, mk(99, extra), groups=_GROUPS)
    old = {(s.technique, s.system_group): s for s in score_visibility(kb_any, before, cat)}
    for s in score_visibility(kb_any, after, cat):
        prev = old[(s.technique, s.system_group)]
        assert s.score >= prev.score and s.coverage >= prev.coverage - 1e-9


def test_demo_scores_table_and_summary(tmp_path: Path, kb_any: AttackKB) -> None:
    cat = load_catalog()
    inv = load_inventory(DEMO, kb_any, cat)
    scores = score_visibility(kb_any, inv, cat)
    assert {s.system_group for s in scores} == {g.applicable_to for g in inv.system_groups}
    path = write_scores(scores, kb_any, tmp_path / "vis.parquet")
    frame = pd.read_parquet(path)
    assert len(frame) == len(scores) and frame["score"].between(0, 4).all()
    assert frame["explanation"].str.len().min() > 0
    summary = summarize_by_tactic(scores, kb_any)
    ex = next(r for r in summary if r.tactic == "Execution" and r.system_group == "Windows workstations")
    assert 0 < ex.visible <= ex.techniques and 0 <= ex.mean_score <= 4
    linux = score_visibility(kb_any, inv, cat, platform="Linux")
    assert {s.system_group for s in linux} == {"Linux servers", "Core banking", "Internet banking"}


def test_cli_visibility_and_inventory_check(tmp_path: Path, bundle18: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    from detcov.cli.main import main
    out = tmp_path / "v.csv"
    main(["visibility", "--inventory", str(DEMO), "--attack", str(bundle18), "-o", str(out)])
    text = capsys.readouterr().out
    assert "Visibility by tactic" in text and out.exists()
    assert len(pd.read_csv(out)) > 1000
    main(["visibility", "--inventory", str(DEMO), "--attack", str(bundle18), "--explain", "T1059.001"])
    assert "AN1252" in capsys.readouterr().out
    main(["inventory", "check", str(DEMO), "--attack", str(bundle18)])
    assert "valid: 8 system groups" in capsys.readouterr().out
    main(["catalog", "show", "sysmon"])
    assert "WinEventLog:Sysmon" in capsys.readouterr().out
