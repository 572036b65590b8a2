"""detcov on a v19/v20-shaped bundle (synthetic, built from the real 18.1 by ``tests/v19_bundle.py``): loader, tactic
order, crosswalk from the other side, the whole demo scan with layers and heatmaps, history across 18.1 → 19.0 and
the quarterly report."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import run_cli
from local_mirror import serving
from v19_bundle import MOVES, V20_EXTRA, write_v19

from detcov.attack import AttackKB, IdStatus, load_attack
from detcov.attack.crosswalk import BUNDLE_SOURCE, load_crosswalk
from detcov.attack.download import downloaded_path, latest_pinned_version, untested_warning
from detcov.coverage.engine import ScanResult, run_scan
from detcov.outputs.history.diff import diff_snapshots
from detcov.outputs.history.history import open_history
from detcov.outputs.history.store import read_snapshot, record_scan
from detcov.outputs.navigator import validate_layer
from detcov.outputs.report.render import build_report
from detcov.outputs.scan_outputs import write_scan_outputs

pytestmark = pytest.mark.attack_real
DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo-bank"


@pytest.fixture(scope="module")
def bundles(bundle18: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("attack-v19")
    return {v: write_v19(bundle18, folder, v) for v in ("19.0", "20.0")}


@pytest.fixture(scope="module")
def kb19(bundles: dict[str, Path]) -> AttackKB:
    return load_attack(bundles["19.0"])


def test_loader_reads_the_v19_matrix(kb19: AttackKB, kb18: AttackKB) -> None:
    assert kb19.version == "19.0" and kb19.info.spec_version == "2.1"
    names = [t.name for t in kb19.tactics]
    assert len(names) == len(kb18.tactics) + 1
    assert names[names.index("Stealth") + 1] == "Defense Impairment"  # matrix order from the bundle, not a table
    assert "Defense Evasion" not in names
    assert kb19.tactic("TA0112") is not None and kb19.tactic("TA0112").shortname == "defense-impairment"  # type: ignore[union-attr]
    # a v18 tactic tag crosses over: TA0005 was renamed
    assert kb19.tactic("attack.defense-evasion").shortname == "stealth"  # type: ignore[union-attr]
    moved = kb19.technique("T1685.005")
    assert moved is not None and moved.tactics == ("defense-impairment",) and moved.parent == "T1685"


def test_old_ids_follow_the_bundle_not_the_table(kb19: AttackKB) -> None:
    for old, new, _ in MOVES:
        res = kb19.resolve(f"attack.{old.lower()}")
        assert res.status is IdStatus.REVOKED and res.current == new, old
    # the table pairs T1562.004 with T1686; this bundle revokes it by T1686.003: the bundle's link wins
    table = {p.old: p.new for p in load_crosswalk().pairs if p.direction.newer}
    assert table["T1562.004"] == "T1686"
    assert kb19.resolve("T1562.004").current == "T1686.003"
    assert kb19.crosswalk is not None
    overridden = [p for p in kb19.crosswalk.pairs if p.sources == (BUNDLE_SOURCE,)]
    assert [(p.old, p.new) for p in overridden] == [("T1562.004", "T1686.003")]
    assert kb19.ids.loaded_is_newer


def test_v20_shape_loads(bundles: dict[str, Path]) -> None:
    kb20 = load_attack(bundles["20.0"])
    assert kb20.version == "20.0"
    assert kb20.technique(V20_EXTRA[0]) is not None
    assert kb20.resolve("T1070.001").current == "T1685.005"


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo bank in a tmp folder, its config without the pinned 18.1 (so any bundle may be passed)."""
    root = tmp_path_factory.mktemp("demo") / "demo-bank"
    shutil.copytree(DEMO, root)
    config = root / "detcov.yaml"
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["attack"] = {}
    doc["output"], doc["history"] = "out", "history.sqlite"
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    for name, tag in (("fcb_wevtutil_clear_v18_tag", "attack.t1070.001"), ("fcb_defender_off_v19_tag", "attack.t1685")):
        (root / "rules" / "sigma" / f"{name}.yml").write_text(CROSS_RULE.format(name=name, tag=tag), encoding="utf-8")
    (root / "rules" / "sigma" / "mr_fcb_credential_stuffing.yml").write_text(CORRELATION, encoding="utf-8")
    return config


CORRELATION = """title: Credential stuffing - many failed logons then a success
id: fcb_mr_credential_stuffing
status: test
tags: [attack.credential-access, attack.t1110.004]
correlation: {type: temporal_ordered, rules: [fcb_failed, fcb_success], group-by: [IpAddress], timespan: 15m}
level: high
---
title: Failed logon
name: fcb_failed
logsource: {product: windows, service: security}
detection: {selection: {EventID: 4625}, condition: selection}
---
title: Successful logon
name: fcb_success
logsource: {product: windows, service: security}
detection: {selection: {EventID: 4624}, condition: selection}
"""


CROSS_RULE = """title: {name}
id: {name}
status: test
tags:
    - {tag}
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        CommandLine|contains: 'wevtutil cl'
    condition: selection
level: high
"""


@pytest.fixture(scope="module")
def scans(demo_copy: Path, bundles: dict[str, Path], bundle18: Path,
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[ScanResult, Path]]:
    out = {}
    for version, bundle in (("18.1", bundle18), ("19.0", bundles["19.0"])):
        result = run_scan(demo_copy, attack_path=bundle)
        folder = tmp_path_factory.mktemp(f"scan-{version}")
        write_scan_outputs(result, folder)
        out[version] = (result, folder)
    return out


def test_scan_and_layers_on_v19(scans: dict[str, tuple[ScanResult, Path]]) -> None:
    result, out = scans["19.0"]
    assert result.kb.version == "19.0"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    tactics = [t["name"] for t in summary["per_tactic"]]
    assert "Stealth" in tactics and "Defense Impairment" in tactics and "Defense Evasion" not in tactics
    layers = sorted((out / "layers").glob("*.json"))
    assert len(layers) >= 7
    for path in layers:
        layer = json.loads(path.read_text(encoding="utf-8"))
        problems = [i for i in validate_layer(layer, result.kb) if i.severity.value == "error"]
        assert not problems, (path.name, problems[:3])
        assert not any(t["techniqueID"] in {old for old, _, _ in MOVES} for t in layer["techniques"]), path.name
    heatmaps = (out / "heatmaps.html").read_text(encoding="utf-8")
    assert "Defense Impairment" in heatmaps and "Stealth" in heatmaps


def test_ids_of_either_release_count_on_either_bundle(scans: dict[str, tuple[ScanResult, Path]]) -> None:
    """One rule tagged with a v18 id (T1070.001), one with a v19 id (T1685): both count on 18.1 and on v19."""
    (r18, _), (r19, _) = scans["18.1"], scans["19.0"]
    v18, v19 = "fcb_wevtutil_clear_v18_tag", "fcb_defender_off_v19_tag"
    for result, expected in ((r18, {v18: "T1070.001", v19: "T1562.001"}), (r19, {v18: "T1685.005", v19: "T1685"})):
        rules = {r.id: r for r in result.ruleset.rules}
        for rule_id, technique in expected.items():
            assert rules[rule_id].technique_ids == (technique,), (result.kb.version, rule_id)
            best = max(c.detection for c in result.cells_of(technique))  # detected in some system group
            assert best >= 1, (result.kb.version, technique)
    note = next(r for r in r18.ruleset.rules if r.id == "fcb_defender_off_v19_tag").techniques[0].note
    assert note == "T1685 is an ATT&CK v19+ id, newer than the loaded 18.1; counted as T1562.001 here"
    # every rule counted on 18.1 is counted on the v19 bundle too (through its revoked-by links)
    counted18 = {r.id for r in r18.ruleset.rules if r.technique_ids}
    assert counted18 <= {r.id for r in r19.ruleset.rules if r.technique_ids}
    moved = {old for old, _, _ in MOVES}
    assert not moved & {t for r in r19.ruleset.rules for t in r.technique_ids}


def test_correlation_rules_count_and_newer_ids_are_reported(scans: dict[str, tuple[ScanResult, Path]]) -> None:
    for result, _ in scans.values():
        # only the correlation rule covers it
        assert max(c.detection for c in result.cells_of("T1110.004")) >= 1, result.kb.version
    issues = [str(i) for i in scans["18.1"][0].issues if "v19+" in str(i)]
    assert len(issues) == 1 and "T1685.003" in issues[0] and "fcb_defender_tamper_v19_tag.yml" in issues[0]


def test_history_and_report_across_18_and_19(scans: dict[str, tuple[ScanResult, Path]], kb19: AttackKB,
                                             tmp_path: Path) -> None:
    store = tmp_path / "history.sqlite"
    record_scan(store, "2026Q3", scans["18.1"][1])
    record_scan(store, "2026Q4", scans["19.0"][1])
    old, new = read_snapshot(store, "2026Q3"), read_snapshot(store, "2026Q4")
    moved = {old_id: new_id for old_id, new_id, _ in MOVES}
    for kb, label in ((kb19, "19.0"), (None, "18.1 → 19.0 crosswalk")):
        diff = diff_snapshots(old, new, kb)
        assert diff.versions_differ and diff.normalised_with == label
        renamed = dict(diff.renamed)
        assert renamed and all(k in moved for k in renamed)
        detection = diff.view("detection")
        # a technique detected in both quarters under its old and new id is neither lost nor gained
        for old_id, new_id in renamed.items():
            assert old_id not in detection.lost and new_id not in detection.lost, (label, old_id)
    history = open_history(store)
    assert history.diff("2026Q3", "2026Q4", kb=kb19).normalised_with == "19.0"
    (html,) = build_report(store, "2026Q4", tmp_path / "report", kb=kb19)
    text = html.read_text(encoding="utf-8")
    assert "Defense Impairment" in text and "19.0" in text


@pytest.fixture(scope="module")
def mirror(bundles: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A bank's internal mirror on 127.0.0.1, in attack-stix-data's layout, serving the v20-shaped bundle."""
    root = tmp_path_factory.mktemp("mirror")
    (root / "enterprise-attack").mkdir()
    shutil.copy(bundles["20.0"], root / "enterprise-attack" / "enterprise-attack-20.0.json")
    with serving(root) as url:
        yield url


def test_download_20_from_a_local_mirror(capsys: pytest.CaptureFixture[str], mirror: str, bundles: dict[str, Path],
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DETCOV_CACHE_DIR", str(tmp_path / "cache"))
    sha = hashlib.sha256(bundles["20.0"].read_bytes()).hexdigest()  # synthetic: MITRE's pin cannot match it
    code, out, err = run_cli(capsys, "attack", "download", "--attack-version", "20.0", "--url", mirror,
                             "--sha256", sha)
    assert code == 0, err
    saved = downloaded_path("20.0", tmp_path / "cache")
    assert saved.is_file() and str(saved) in out.replace("\n", "")
    assert "not one of the releases detcov is tested on with MITRE's real data (17.1, 18.1)" in " ".join(err.split())
    code, out, err = run_cli(capsys, "attack", "info", "--attack", str(saved))
    assert code == 0 and "ATT&CK 20.0" in out and "15: Reconnaissance" in out and "Stealth," in out, err


def test_default_download_is_the_newest_pin_with_a_warning(capsys: pytest.CaptureFixture[str], mirror: str,
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DETCOV_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DETCOV_ATTACK_URL", mirror)
    newest = latest_pinned_version()
    assert newest == "20.0"  # mitreattack-python 6.3.1 pins up to 20.0
    code, _, err = run_cli(capsys, "attack", "download")
    text = " ".join(err.split())
    assert f"warning: ATT&CK {newest} is not one of the releases" in text and "--attack-version 18.1" in text
    # the mirror serves the synthetic bundle, so MITRE's pinned SHA-256 refuses it and nothing is kept
    assert code == 2 and "checksum mismatch" in text and "nothing was saved" in text
    assert not downloaded_path(newest, tmp_path / "cache").exists()
    assert untested_warning("18.1") is None


def test_crosswalk_command_shows_sources_and_bundle_overrides(capsys: pytest.CaptureFixture[str],
                                                              bundles: dict[str, Path], bundle18: Path) -> None:
    code, out, err = run_cli(capsys, "attack", "crosswalk", "--attack", str(bundles["19.0"]))
    assert code == 0, err
    flat = " ".join(out.split())
    assert "(loaded: 19.0)" in flat and "E: elastic/detection-rules" in flat and "S: SigmaHQ/sigma PR #5966" in flat
    bundle_rows = [line for line in out.splitlines() if re.search(r"│ bundle\s+│", line)]
    assert len(bundle_rows) == 1 and "T1562.004" in bundle_rows[0] and "T1686.003" in bundle_rows[0]
    code, out, _ = run_cli(capsys, "attack", "crosswalk", "--attack", str(bundle18))
    assert code == 0 and not re.search(r"│ bundle\s+│", out) and "T1686.002" in out
