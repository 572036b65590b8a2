"""The notebooks (jupytext py:percent) run end to end in a real kernel, and say what the API says.

Each notebook prints one marker line ``DETCOV-NOTEBOOK {json}``; the tests compare it with a scan of the demo bank
made here, and the what-if notebook with the unhealthy-rule table of ``examples/demo-bank/rules/README.md``.
The Jupyter kernel talks over loopback: ``.ci/run`` brings ``lo`` up.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import jupytext
import pytest
from nbclient import NotebookClient

from detcov.coverage.engine import ScanResult, run_scan
from tests.conftest import REPO

NOTEBOOKS = REPO / "notebooks"
DEMO = REPO / "examples" / "demo-bank"
MARKER = "DETCOV-NOTEBOOK "
TIMEOUT_S = 180


def _outputs(nb: Any, kind: str) -> list[str]:
    return [o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
            if o.output_type == "stream" and o.name == kind]


def execute(name: str, bundle: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, dict[str, Any]]:
    """Run one notebook in a fresh python3 kernel (cwd = notebooks/); return it and its marker."""
    monkeypatch.setenv("DETCOV_ATTACK_BUNDLE", str(bundle))  # the kernel inherits the environment
    monkeypatch.setenv("DETCOV_ATTACK_DATA", str(bundle.parent))
    monkeypatch.delenv("DETCOV_DEMO_BANK", raising=False)
    nb = jupytext.read(NOTEBOOKS / name)
    NotebookClient(nb, timeout=TIMEOUT_S, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()  # raises on any cell error
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    warnings = [t for t in _outputs(nb, "stderr") if "Warning" in t or "Traceback" in t]
    assert not warnings, f"{name} writes warnings: {warnings}"
    markers = [line[len(MARKER):] for text in _outputs(nb, "stdout") for line in text.splitlines()
               if line.startswith(MARKER)]
    assert len(markers) == 1, f"{name}: expected one marker line, got {len(markers)}"
    return nb, json.loads(markers[0])


@pytest.fixture(scope="module")
def demo_scan(bundle18: Path) -> ScanResult:
    return run_scan(DEMO / "detcov.yaml", attack_path=bundle18)


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def _auditd_rules() -> set[str]:
    """Rules the demo README says are unhealthy because auditd / Linux telemetry is not in the SIEM."""
    readme = (DEMO / "rules" / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (.+?) \| (\S+) \| missing-log-source \| (.+?) \|$", readme, flags=re.MULTILINE)
    return {title for title, _, why in rows if "auditd" in why.lower()}


def test_notebooks_are_jupytext_percent_without_outputs() -> None:
    paths = sorted(NOTEBOOKS.glob("*.py"))
    assert {p.name for p in paths} >= {"coverage_walkthrough.py", "whatif_onboarding.py"}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert "format_name: percent" in text and "name: python3" in text, path
        nb = jupytext.reads(text, fmt="py:percent")
        assert sum(c.cell_type == "markdown" for c in nb.cells) >= 3, f"{path.name}: explain the steps"
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
        assert "http://" not in text and "https://" not in text, f"{path.name}: notebooks never touch the network"


def test_walkthrough_reports_the_api_numbers(bundle18: Path, demo_scan: ScanResult,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    nb, marker = execute("coverage_walkthrough.py", bundle18, monkeypatch)
    kpis = demo_scan.summary.kpis
    assert marker["notebook"] == "coverage_walkthrough"
    assert (marker["visible"], marker["detected"], marker["in_scope"]) == (
        kpis.visibility.covered, kpis.detection.covered, kpis.detection.total)
    assert marker["rules"] == len(demo_scan.ruleset.rules)
    assert marker["unhealthy"] == sum(not h.healthy for h in demo_scan.healths) > 0
    assert marker["top_gap"] == demo_scan.gaps[0].technique
    assert marker["heatmap_traces"] >= 1
    figures = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figures) == 1  # the heatmap was displayed, not only built


def test_whatif_adds_visibility_and_heals_auditd_rules(bundle18: Path, demo_scan: ScanResult,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    before = _tree_digest(DEMO)
    _, marker = execute("whatif_onboarding.py", bundle18, monkeypatch)
    assert _tree_digest(DEMO) == before, "the what-if notebook must work on a copy of the demo bank"
    visible, detected, healed = marker["visible"], marker["detected"], marker["healed"]
    assert visible["base"] == demo_scan.summary.kpis.visibility.covered
    assert detected["base"] == demo_scan.summary.kpis.detection.covered
    assert min(visible["a"], visible["b"]) >= visible["base"] and visible["c"] >= max(visible["a"], visible["b"])
    assert marker["techniques_gaining_visibility"] > 0
    expected = _auditd_rules()
    assert len(expected) >= 3  # the README table parsed
    assert set(healed["a"]) == expected  # forwarding auditd heals exactly the rules that were waiting for it
    assert set(healed["c"]) >= set(healed["a"]) | set(healed["b"])
    assert detected["a"] > detected["base"]
