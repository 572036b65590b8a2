"""Outputs that go to a board or an examiner name input files relative to the scan config's folder (or from the
input itself when it lives elsewhere), never by an absolute local path."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import orjson
import pytest

from detcov.coverage.engine import run_scan
from detcov.outputs.portable import path_namer
from detcov.outputs.scan_outputs import write_scan_outputs
from tests.conftest import REPO

DEMO = REPO / "examples" / "demo-bank"


def test_path_namer(tmp_path: Path) -> None:
    base = tmp_path / "soc" / "config"
    namer = path_namer(base, ["inventory.yaml", "../shared/rules", "/srv/intel/scores.yaml", "/top.yaml"])
    assert namer.text(f"score (2025-10-01, {base}/technique-scores.yaml:22:5)") == \
        "score (2025-10-01, technique-scores.yaml:22:5)"
    assert namer.text(f"{base}/../shared/rules/win/x.yml:3") == "rules/win/x.yml:3"  # as the config names it
    assert namer.text(f"{tmp_path}/soc/shared/rules/win/x.yml:3") == "rules/win/x.yml:3"  # resolved
    assert namer.text("manual score 5 (/srv/intel/scores.yaml:9:5)") == "manual score 5 (scores.yaml:9:5)"
    assert namer.text("/top.yaml:1 and /etc/hosts") == "/top.yaml:1 and /etc/hosts"  # never strips a bare "/"
    assert namer.value({"a": [f"{base}/x", 1], "b": (f"{base}/y",)}) == {"a": ["x", 1], "b": ("y",)}


def test_path_namer_renames_table_columns_whatever_the_folder_is_called(tmp_path: Path) -> None:
    import pandas as pd

    base = tmp_path / "SOC (prod) [v2]+{a}$^|?*.x"  # every regular-expression character in a folder name
    namer = path_namer(base, ["rules"])
    frame = pd.DataFrame({"path": [f"{base}/rules/a.yml:1", "elsewhere/b.yml"], "score": [1, 2],
                          "detail": ["no path here", f"see {base}/rules/c.yml"]}, dtype=object).astype(
                              {"path": "str", "detail": "str"})
    out = namer.frame(frame)
    assert out["path"].tolist() == ["rules/a.yml:1", "elsewhere/b.yml"]
    assert out["detail"].tolist() == ["no path here", "see rules/c.yml"]
    assert out["score"].tolist() == [1, 2]


@pytest.mark.attack_real
def test_scan_outputs_carry_no_absolute_input_path(tmp_path: Path, bundle18: Path) -> None:
    config_dir = tmp_path / "bank"
    shutil.copytree(DEMO, config_dir)
    elsewhere = tmp_path / "purple-team"  # technique scores kept outside the config folder, named absolutely
    elsewhere.mkdir()
    shutil.move(config_dir / "technique-scores.yaml", elsewhere / "technique-scores.yaml")
    shutil.move(config_dir / "rules" / "sentinel", tmp_path / "sentinel-export")  # a rule folder beside it
    text = (config_dir / "detcov.yaml").read_text(encoding="utf-8")
    text = text.replace("technique_scores: technique-scores.yaml",
                        f"technique_scores: {elsewhere / 'technique-scores.yaml'}")
    text = text.replace("path: rules/sentinel", "path: ../sentinel-export")
    (config_dir / "detcov.yaml").write_text(text, encoding="utf-8")

    result = run_scan(config_dir / "detcov.yaml", attack_path=bundle18)
    out = tmp_path / "out"
    write_scan_outputs(result, out)

    leaks: dict[str, int] = {}
    for path in out.rglob("*"):
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as book:
                data = b"".join(book.read(n) for n in book.namelist())
        elif path.suffix in (".csv", ".json", ".html"):
            data = path.read_bytes()
        else:
            continue
        if (n := data.count(str(tmp_path).encode())) > 0:
            leaks[str(path.relative_to(out))] = n
    assert leaks == {}, f"absolute input paths in: {leaks}"

    techniques = (out / "tables" / "techniques.csv").read_text(encoding="utf-8-sig")
    assert "manual score 2 (2025-10-01, technique-scores.yaml:22:5)" in techniques
    rules = (out / "tables" / "rules.csv").read_text(encoding="utf-8-sig")
    assert ",sentinel-export/FCB-" in rules and ",rules/sigma/fcb_" in rules
    summary = orjson.loads((out / "summary.json").read_bytes())
    assert "rules/sigma/fcb_defender_tamper_v19_tag.yml" in orjson.dumps(summary).decode()
