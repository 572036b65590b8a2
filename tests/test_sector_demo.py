"""End to end on the demo bank: `detcov share` holds nothing that names it, `detcov sector merge` of a synthetic
sector plus the bank, and the bank's quarterly report showing its sector percentile."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from conftest import REPO, run_cli

from detcov.attack import AttackKB
from detcov.coverage.engine import ScanResult, run_scan
from detcov.outputs.history import open_history, record_scan
from detcov.outputs.navigator import validate_layer
from detcov.outputs.scan_outputs import write_scan_outputs
from detcov.sector.model import KPIS
from detcov.sector.position import load_sector_kpis, sector_position
from detcov.sector.share import build_share, write_share
from detcov.sector.source import member_coverage
from detcov.sector.synthetic import write_sector_shares

pytestmark = pytest.mark.slow
DEMO = REPO / "examples" / "demo-bank" / "detcov.yaml"


@pytest.fixture(scope="module")
def scan(bundle18: Path) -> ScanResult:
    return run_scan(DEMO, attack_path=bundle18)


@pytest.fixture(scope="module")
def sector_dir(scan: ScanResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """19 synthetic members on the bank's profile techniques, and the bank's own share."""
    root = tmp_path_factory.mktemp("sector")
    weights = {t: w.weight for t, w in scan.weights.items()}
    write_sector_shares(root / "shares", sorted(weights)[:120], weights, 19, seed=11)
    write_share(root / "shares" / "bank", *build_share(member_coverage(scan)))
    return root


def test_share_of_the_demo_bank_names_nothing(scan: ScanResult, bundle18: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "share", str(DEMO), "--out", str(tmp_path), "--attack", str(bundle18))
    assert code == 0, err
    (meta,) = tmp_path.glob("share-*.json")
    data = meta.read_bytes() + meta.with_suffix(".parquet").read_bytes()
    secrets = [scan.config.name, *(g.applicable_to for g in scan.inventory.system_groups),
               *(d.name for d in scan.inventory.devices), *(r.title for r in scan.ruleset.rules if len(r.title) > 8),
               str(REPO)]
    leaked = [s for s in secrets if s and s.encode() in data]
    assert leaked == []
    manifest = orjson.loads(meta.read_bytes())
    assert manifest["kpis"]["detection"] == round(scan.summary.kpis.detection.percent)
    assert "rows" in out and "scope classes" in out


def test_sector_merge_and_the_banks_percentile_in_its_report(scan: ScanResult, sector_dir: Path, kb18: AttackKB,
                                                             bundle18: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = sector_dir / "merged"
    code, text, err = run_cli(capsys, "sector", "merge", str(sector_dir / "shares"), "--out", str(out),
                              "--attack", str(bundle18), "--top", "5")
    assert code == 0, err
    assert "20 institutions" in text
    doc = orjson.loads((out / "sector.json").read_bytes())
    assert doc["members"] == 20 and len(doc["top_gaps"]) == 5 and doc["kpis"]["detection"]
    layer = orjson.loads((out / "sector-layer.json").read_bytes())
    assert [i for i in validate_layer(layer, kb18) if i.severity == "error"] == []
    assert "plotly" in (out / "sector-heatmap.html").read_text(encoding="utf-8")

    store, scan_out = tmp_path / "h.sqlite", tmp_path / "scan"
    write_scan_outputs(scan, scan_out)
    record_scan(store, "2026Q3", scan_out)
    code, _, err = run_cli(capsys, "report", "--quarter", "2026Q3", "--store", str(store), "--out",
                           str(tmp_path / "report"), "--sector", str(out), "--attack", str(bundle18))
    assert code == 0, err
    page = (tmp_path / "report" / "report-2026Q3-en.html").read_text(encoding="utf-8")
    block = re.search(r'<section id="sector">(.*?)</section>', page, re.S)
    assert block is not None and "20 institutions" in block.group(1)
    summary = open_history(store).load("2026Q3").summary
    kpis = {k: getattr(summary.kpis, k).percent for k in KPIS}
    positions = sector_position(kpis, load_sector_kpis(out))
    assert len(positions) == 4
    for pos in positions:
        assert f'<td class="num">{pos.percentile:g}</td>' in block.group(1)


def test_report_sector_path_that_is_not_a_sector_is_one_clear_error(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sector.json").write_text('{"file_type": "something else"}', encoding="utf-8")
    code, _, err = run_cli(capsys, "report", "--quarter", "2026Q3", "--store", str(tmp_path / "none.sqlite"),
                           "--sector", str(tmp_path))
    assert code == 2 and "not a detcov sector file" in err and "Traceback" not in err
