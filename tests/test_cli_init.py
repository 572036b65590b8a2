"""``detcov init``: the starter files validate and scan as they are, with the scope model's keys in place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import run_cli


def test_init_files_check_and_scan(tmp_path: Path, bundle18: Path, capsys: pytest.CaptureFixture[str]) -> None:
    soc = tmp_path / "soc"
    code, _, err = run_cli(capsys, "init", str(soc), "--name", "Example Bank")
    assert code == 0, err
    assert {p.name for p in soc.iterdir()} >= {"detcov.yaml", "inventory.yaml", "rules"}
    inventory = yaml.safe_load((soc / "inventory.yaml").read_text(encoding="utf-8"))
    assert inventory["siems"][0]["id"] == "splunk" and all("criticality" in g for g in inventory["system_groups"])
    code, out, err = run_cli(capsys, "inventory", "check", str(soc / "inventory.yaml"), "--attack", str(bundle18))
    assert code == 0, err
    assert "valid: 2 system groups" in out
    code, _, err = run_cli(capsys, "scan", str(soc / "detcov.yaml"), "--attack", str(bundle18), "--out",
                           str(tmp_path / "out"))
    assert code == 0, err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert [g["name"] for g in summary["system_groups"]] == ["Linux servers", "Windows workstations"]
    assert summary["kpis"]["visibility"]["weakest_group"] == "Linux servers"  # the only critical group
