"""The coverage scan on the demo bank: KPIs vs an independent computation, every state, golden layers, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from detcov.coverage.detection import load_manual_scores
from detcov.coverage.engine import ScanResult, run_scan
from detcov.outputs.navigator import validate_layer
from detcov.outputs.scan_outputs import write_scan_outputs

pytestmark = pytest.mark.attack_real
DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo-bank"


@pytest.fixture(scope="module")
def scan(bundle18: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ScanResult, Path]:
    result = run_scan(DEMO / "detcov.yaml", attack_path=bundle18)
    out = tmp_path_factory.mktemp("demo-out")
    write_scan_outputs(result, out)
    return result, out


def test_kpis_equal_an_independent_computation(scan: tuple[ScanResult, Path]) -> None:
    """Recompute the headline KPIs from the written techniques table (per-group columns) and the inventory's
    criticalities with pandas, not with detcov's code."""
    import yaml

    _, out = scan
    summary = json.loads((out / "summary.json").read_text())
    table = pd.read_csv(out / "tables" / "techniques.csv", keep_default_na=False)
    scope = table[table["in_scope"]]
    assert len(scope) == summary["scope"]["techniques_in_scope"] > 300
    inventory = yaml.safe_load((DEMO / "inventory.yaml").read_text(encoding="utf-8"))
    crit = {g["applicable_to"]: g["criticality"] for g in inventory["system_groups"]}
    cells = []
    for _, row in scope.iterrows():
        for group, c in crit.items():
            if row[f"gap:{group}"] in ("not-applicable", "not-observable", ""):
                continue
            cells.append({"technique": row["technique"], "group": group, "crit": c, "weight": row["weight"],
                          "vis": int(float(row[f"vis:{group}"])), "det": int(float(row[f"det:{group}"])),
                          "blk": int(float(row[f"blk:{group}"]))})
    frame = pd.DataFrame(cells)
    for kpi, hit in (("visibility", frame["vis"] >= 3), ("detection", frame["det"] >= 2),
                     ("blocking", frame["blk"] >= 1)):
        got = summary["kpis"][kpi]
        assert got["total"] == len(frame) and got["covered"] == int(hit.sum()), kpi
        assert got["percent"] == pytest.approx(100 * frame.loc[hit, "crit"].sum() / frame["crit"].sum(), abs=0.06)
        w = frame["crit"] * frame["weight"]
        assert got["weighted_percent"] == pytest.approx(100 * w[hit].sum() / w.sum(), abs=0.06), kpi
        per_group = frame.assign(hit=hit).groupby("group")["hit"].mean() * 100
        critical = per_group[[g for g in per_group.index if crit[g] >= 4]]
        assert got["weakest_group"] == critical.idxmin() and got["weakest_percent"] == pytest.approx(
            critical.min(), abs=0.06), kpi
        assert got["best_percent"] == pytest.approx(per_group.max(), abs=0.06)
    groups = {g["name"]: g for g in summary["system_groups"]}
    assert set(groups) == set(crit)
    core = frame[frame["group"] == "Core banking"]
    assert groups["Core banking"]["visibility"] == pytest.approx(100 * (core["vis"] >= 3).mean(), abs=0.06)
    assert summary["not_observable"] == int((scope["gap"] == "not-observable").sum())


def test_every_state_shows(scan: tuple[ScanResult, Path]) -> None:
    result, _ = scan
    summary = result.summary
    assert set(summary.gaps) >= {"blind", "rule-gap", "broken", "detected", "contradicted", "not-observable"}
    # the demo's designed outcomes (examples/demo-bank/rules/README.md), judged per system group and SIEM
    assert summary.rule_health == {"healthy": 43, "disabled": 5, "missing-log-source": 11, "unknown-technique": 1,
                                   "unmapped": 1, "not-applicable": 3}
    gaps = [g.priority for g in result.gaps]
    assert gaps == sorted(gaps, reverse=True)
    assert all(g.action for g in result.gaps)


def test_manual_scores_and_validation(scan: tuple[ScanResult, Path]) -> None:
    result, _ = scan
    lsass = result.cells[("T1003.001", "Windows workstations")]
    assert lsass.detection == 5 and "manual score 5" in lsass.detection_text
    schtasks = result.cells[("T1053.005", "Windows servers")]  # the test ran on FCB-SRV-APP07
    assert schtasks.detection <= 1 and schtasks.detection_evidence.value == "disproved"
    assert schtasks.gap.value == "contradicted" and "not detected" in schtasks.validation_text
    assert result.validation["T1053.005"].contradictions
    gaps = {g.technique: g for g in result.gaps}
    assert gaps["T1053.005"].gap.value == "contradicted" and gaps["T1053.005"].group == "Windows servers"


def test_recommendations(scan: tuple[ScanResult, Path]) -> None:
    result, _ = scan
    assert result.onboarding, "the demo bank lacks Linux process telemetry: something must be recommended"
    gains = [s.gain for s in result.onboarding]
    values = [s.gain / s.effort for s in result.onboarding]
    assert values == sorted(values, reverse=True) and gains[0] > 0
    first = result.onboarding[0]
    assert first.system_group in ("Core banking", "Linux servers", "Internet banking") and first.techniques
    assert first.already_deployed and first.device_type == "linux-auditd"  # forwarding beats buying
    rule_gap = next(g for g in result.gaps if g.gap.value == "rule-gap")
    hint = result.hints[rule_gap.technique][0]
    assert hint.log_sources and hint.analytic.startswith("AN")
    from detcov.datasources.inventory import collected_telemetry

    where = collected_telemetry([result.estate.group_telemetry[rule_gap.group or ""]])
    for source in hint.log_sources:  # every suggested log source is really collected in the deciding group
        ref = next(r for r in result.kb.analytic(hint.analytic).log_sources
                   if f"{r.name} {r.channel}".strip() == source)
        assert where.has_component(ref.data_component, hint.platform)


def test_layers_valid_and_golden(scan: tuple[ScanResult, Path], snapshot: SnapshotAssertion) -> None:
    result, out = scan
    digest = {}
    for path in sorted((out / "layers").glob("*.json")):
        layer = json.loads(path.read_text(encoding="utf-8"))
        errors = [i for i in validate_layer(layer, result.kb) if i.severity.value == "error"]
        assert not errors, errors
        digest[path.stem] = {
            "name": layer["name"], "versions": layer["versions"], "legend": layer.get("legendItems"),
            "cells": sorted([t["techniqueID"], t.get("tactic"), t.get("score"), t.get("color")]
                            for t in layer["techniques"]),
        }
    assert set(digest) == {"visibility", "detection", "blocking", "profile", "visibility-detection",
                           "profile-detection", "gaps"}
    assert digest == snapshot(extension_class=JSONSnapshotExtension)


def test_workbook_and_tables(scan: tuple[ScanResult, Path]) -> None:
    from openpyxl import load_workbook

    _, out = scan
    book = load_workbook(out / "coverage.xlsx", read_only=True)
    assert {"techniques", "rules", "devices", "gaps", "recommendations"} <= set(book.sheetnames)
    rules = pd.read_parquet(out / "tables" / "rules.parquet")
    assert len(rules) == 64 and set(rules["health"]) >= {"healthy", "disabled", "missing-log-source"}


def test_whatif_extra_rule_raises_detection(scan: tuple[ScanResult, Path], bundle18: Path) -> None:
    from dataclasses import replace

    result, _ = scan
    target = next(g for g in result.gaps if g.gap.value == "rule-gap" and g.group == "Windows workstations").technique
    template = next(h.rule for h in result.healths if "Windows workstations" in h.healthy_groups
                    and h.rule.status.value == "enabled" and h.rule.platforms == ())
    extra = replace(template, id="whatif-1", title="what-if", techniques=(result.kb.resolve(target),))
    again = run_scan(DEMO / "detcov.yaml", attack_path=bundle18, extra_rules=[extra])
    assert again.cells[(target, "Windows workstations")].detection >= 2
    raised = [g for g in template_groups(again, "whatif-1") if result.cells[(target, g)].detection < 2]
    assert again.summary.kpis.detection.covered == result.summary.kpis.detection.covered + len(raised) > 0


def template_groups(result: ScanResult, rule_id: str) -> tuple[str, ...]:
    return next(h.healthy_groups for h in result.healths if h.rule.id == rule_id)


def test_dettect_sample_accepted_as_manual_scores(kb18) -> None:  # type: ignore[no-untyped-def]
    from conftest import shared_path

    scores, issues = load_manual_scores(shared_path("dettect-samples", "techniques-administration-endpoints.yaml"),
                                        kb18)
    assert len(scores) > 10
    assert all(-1 <= (s.detection if s.detection is not None else 0) <= 5 for s in scores.values())
    assert all(0 <= (s.visibility or 0) <= 4 for s in scores.values())
    assert all(i.severity.value == "warning" for i in issues)


def test_scan_with_the_shared_sigma_and_elastic_corpora(scan: tuple[ScanResult, Path], bundle18: Path,
                                                        tmp_path: Path) -> None:
    """The real corpora as the institution's rules: every file accounted for, detection coverage rises."""
    from conftest import shared_path

    sigma, elastic = shared_path("rules-corpora", "sigma", "rules"), shared_path("rules-corpora", "elastic")
    config = (DEMO / "detcov.yaml").read_text(encoding="utf-8")
    head = config.split("rules:\n", 1)[0]
    tail = config.split("profiles:\n", 1)[1]
    (tmp_path / "detcov.yaml").write_text(
        head.replace("inventory: inventory.yaml", f"inventory: {DEMO / 'inventory.yaml'}")
        + f"rules:\n  - path: {sigma}\n  - path: {elastic}\nprofiles:\n"
        + tail.replace("technique-scores.yaml", str(DEMO / "technique-scores.yaml"))
              .replace("validation.csv", str(DEMO / "validation.csv"))
              .replace("simulations/", f"{DEMO / 'simulations'}/"), encoding="utf-8")
    big = run_scan(tmp_path / "detcov.yaml", attack_path=bundle18)
    assert sum(f.rules for f in big.ruleset.files) == len(big.ruleset.rules) > 4000
    assert big.summary.kpis.detection.covered > scan[0].summary.kpis.detection.covered
