"""``detcov scan`` end to end: outputs, thresholds, bad configs, and the heatmap page in headless Chromium."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli

from detcov.cli.main import main
from detcov.outputs.chromium import dump_dom, screenshot

pytestmark = pytest.mark.attack_real
DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo-bank"


@pytest.fixture(scope="module")
def scanned(bundle18: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scan-cli")
    with pytest.MonkeyPatch.context():
        try:
            main(["scan", str(DEMO / "detcov.yaml"), "--attack", str(bundle18), "--out", str(out)])
        except SystemExit as exc:
            assert exc.code in (0, None)
    return out


def test_scan_writes_every_output(scanned: Path) -> None:
    for name in ("summary.json", "coverage.xlsx", "heatmaps.html", "tables/techniques.csv", "tables/gaps.parquet",
                 "layers/visibility-detection.json"):
        assert (scanned / name).is_file(), name
    summary = json.loads((scanned / "summary.json").read_text())
    assert summary["scope"]["institution"] == "Formosa Commercial Bank"
    assert summary["attack"]["version"] == "18.1"


def test_fail_under_gives_exit_1_and_80_columns_read_well(capsys: pytest.CaptureFixture[str], bundle18: Path,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run_cli(capsys, "scan", str(DEMO / "detcov.yaml"), "--attack", str(bundle18), "--out",
                             str(tmp_path), "--fail-under", "detection=99.5")
    assert code == 1 and "detection" in err and "99.5" in err
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "≥ 99.5 ✗" in out  # the target column, next to the KPI it judges
    summary = json.loads((tmp_path / "summary.json").read_text())
    flat = " ".join(out.split())
    for gap in summary["top_gaps"]:  # every next step whole (wrapped, not cut): the cause is still there
        assert " ".join(gap["action"].split()) in flat, gap["action"]
    assert "disabled" in flat


def test_kpi_table_is_red_amber_green_against_targets(scanned: Path) -> None:
    from rich.console import Console

    from detcov.cli.terminal import kpi_table, rag
    from detcov.coverage.summary import Summary

    assert (rag(60, 60), rag(55, 60), rag(49.9, 60), rag(10, None)) == ("green", "yellow", "red", None)
    summary = Summary.model_validate(json.loads((scanned / "summary.json").read_text()))
    detection = summary.kpis.detection.percent
    console = Console(record=True, force_terminal=True, color_system="standard", width=80)
    console.print(kpi_table(summary, {"detection": detection + 50, "visibility": 0.0}))
    ansi = console.export_text(styles=True)
    assert f"\x1b[31m{detection:.1f}" in ansi  # red: far below its target
    assert f"\x1b[32m{summary.kpis.visibility.percent:.1f}" in ansi  # green: target met
    plain = Console(record=True, width=80)
    plain.print(kpi_table(summary, {}))
    assert "target" not in plain.export_text()  # no targets, no target column, no colour


def test_bad_config_reports_all_issues(capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle18: Path) -> None:
    shutil.copytree(DEMO, tmp_path / "bank")
    config = tmp_path / "bank" / "detcov.yaml"
    text = config.read_text().replace("inventory: inventory.yaml", "inventory: inventory.yaml\nrulez: []")
    config.write_text(text.replace("name: Formosa", "name: 42\nnamee: Formosa"))
    code, _, err = run_cli(capsys, "scan", str(config), "--attack", str(bundle18))
    lines = [line for line in err.splitlines() if line.startswith("error")]
    assert code == 2 and len(lines) >= 2 and "Traceback" not in err
    assert any("rulez" in line and "detcov.yaml:" in line for line in lines)
    assert any("namee" in line for line in lines)


def test_bad_inventory_keeps_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle18: Path) -> None:
    shutil.copytree(DEMO, tmp_path / "bank")
    inventory = tmp_path / "bank" / "inventory.yaml"
    broken = inventory.read_text().replace("type: ngfw", "type: ngfww", 1)
    inventory.write_text(broken)
    code, _, err = run_cli(capsys, "scan", str(tmp_path / "bank" / "detcov.yaml"), "--attack", str(bundle18))
    assert code == 2 and "ngfww" in err and "inventory.yaml:" in err
    assert inventory.read_text() == broken  # never loses the user's data


@pytest.mark.chromium
def test_heatmap_page_renders_with_tactic_headers(scanned: Path, tmp_path: Path, browser: Path) -> None:
    from PIL import Image, ImageStat

    page = scanned / "heatmaps.html"
    dom = dump_dom(page)
    for tactic in ("Initial Access", "Execution", "Credential Access", "Impact"):
        assert tactic in dom, tactic
    png = screenshot(page, tmp_path / "heatmap.png", 1400, 900)
    stat = ImageStat.Stat(Image.open(png).convert("L"))
    assert stat.stddev[0] > 10, "the screenshot is blank"


def test_gap_list_wraps_under_its_text_at_80_columns(scanned: Path) -> None:
    """Below the wide layout, a gap's heading and next step continue under the text, never back at column 0
    under the item numbers."""
    import re

    from rich.console import Console

    from detcov.cli.terminal import print_gaps_list
    from detcov.coverage.summary import Summary

    summary = Summary.model_validate(json.loads((scanned / "summary.json").read_text()))
    console = Console(record=True, width=80)
    print_gaps_list(console, summary.top_gaps)
    lines = console.export_text().splitlines()[2:]  # after the two-line title
    numbered = [line for line in lines if re.match(r"^[ \d]\d\. T\d{4}", line)]
    assert len(numbered) == len(summary.top_gaps)
    assert all(line.startswith("    ") for line in lines if line not in numbered), "\n".join(lines)
    assert max(len(line) for line in lines) <= 80
