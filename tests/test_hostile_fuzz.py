"""Fuzzing every user-file loader and every rule reader (issue 15): 0 crashes.

Each target starts from a real seed (the demo bank's files, or a small hand-made rule) and hypothesis either
replaces one node of the parsed document with a hostile value (scalars where lists belong, 99 / -7 / "high" /
"yesterday", formula payloads, deep nesting) or damages the text itself (cut, duplicated, random bytes, other
encodings). A loader may only return, or raise :class:`DetcovError` (one located line per problem); a rule
reader may not raise at all (the file is parsed or skipped with a reason).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detcov.apt_profiles import load_profile
from detcov.attack import AttackKB
from detcov.config import load_scan_config
from detcov.coverage.detection import load_manual_scores
from detcov.coverage.validation import load_validation
from detcov.datasources.catalog import load_catalog
from detcov.datasources.dettect import import_dettect
from detcov.datasources.inventory import load_inventory_with_issues
from detcov.errors import DetcovError
from detcov.rules.common import ReadContext
from detcov.rules.reader import read_file
from tests.conftest import REPO

DEMO = REPO / "examples" / "demo-bank"
PROFILES = REPO / "detcov" / "apt_profiles" / "profiles"
FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

HOSTILE = st.sampled_from([None, True, False, 0, -7, 99, 5.5, float("nan"), "", "high", "yesterday", "all",
                           "T1059.001", "t9999", "=HYPERLINK(\"http://x\",\"y\")", "@SUM(1)", "\x00", "é" * 3,
                           "x" * 300, [], {}, [None], {"a": None}, "2025-13-45"])
VALUES = st.recursive(HOSTILE | st.integers() | st.text(max_size=12),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                   max_size=3), max_leaves=6)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {**node, head: _replace(node[head], rest, value)}
    copy = list(node)
    copy[head] = _replace(copy[head], rest, value)
    return copy


@st.composite
def mutated_yaml(draw: st.DrawFn, seed: str) -> bytes:
    doc = yaml.safe_load(seed)
    paths = _paths(doc)
    path = paths[draw(st.integers(0, len(paths) - 1))]
    text = yaml.safe_dump(_replace(doc, path, draw(VALUES)), allow_unicode=True, sort_keys=False)
    return text.encode("utf-8")


@st.composite
def damaged_text(draw: st.DrawFn, seed: str) -> bytes:
    data = seed.encode("utf-8")
    kind = draw(st.sampled_from(["cut", "splice", "bytes", "encoding", "dup-line"]))
    at = draw(st.integers(0, len(data)))
    if kind == "cut":
        return data[:at]
    if kind == "splice":
        return data[:at] + draw(st.binary(max_size=40)) + data[at:]
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "encoding":
        return seed.encode(draw(st.sampled_from(["utf-16", "utf-16-le", "cp1252", "latin-1"])), errors="replace")
    lines = seed.splitlines(keepends=True)
    i = draw(st.integers(0, max(0, len(lines) - 1)))
    return "".join(lines[:i] + lines[i:i + 1] * 3 + lines[i:]).encode("utf-8")


def _inputs(seed: str, structured: bool = True) -> st.SearchStrategy[bytes]:
    return (mutated_yaml(seed) | damaged_text(seed)) if structured else damaged_text(seed)


def _must_not_crash(load: Callable[[Path], Any], path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        load(path)
    except DetcovError as exc:
        assert exc.issues and all(str(i) for i in exc.issues)


# ----- user files ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of the demo bank: the config's relative paths resolve inside it."""
    import shutil

    folder = tmp_path_factory.mktemp("bank") / "bank"
    shutil.copytree(DEMO, folder)
    return folder


@FUZZ
@given(data=_inputs((DEMO / "detcov.yaml").read_text(encoding="utf-8")))
def test_scan_config(bank: Path, data: bytes) -> None:
    _must_not_crash(load_scan_config, bank / "fuzz-detcov.yaml", data)


@FUZZ
@given(data=_inputs((DEMO / "inventory.yaml").read_text(encoding="utf-8")))
def test_inventory(bank: Path, kb18: AttackKB, data: bytes) -> None:
    catalog = load_catalog()
    _must_not_crash(lambda p: load_inventory_with_issues(p, kb18, catalog), bank / "fuzz-inventory.yaml", data)


@FUZZ
@given(data=_inputs((DEMO / "technique-scores.yaml").read_text(encoding="utf-8")))
def test_technique_scores(bank: Path, kb18: AttackKB, data: bytes) -> None:
    _must_not_crash(lambda p: load_manual_scores(p, kb18), bank / "fuzz-scores.yaml", data)


@FUZZ
@given(data=_inputs((DEMO / "validation.csv").read_text(encoding="utf-8"), structured=False))
def test_validation_csv(bank: Path, kb18: AttackKB, data: bytes) -> None:
    _must_not_crash(lambda p: load_validation(p, kb18), bank / "fuzz-validation.csv", data)


@FUZZ
@given(data=_inputs((PROFILES / "taiwan-financial.yaml").read_text(encoding="utf-8")))
def test_profile(bank: Path, kb18: AttackKB, data: bytes) -> None:
    _must_not_crash(lambda p: load_profile(p, kb18), bank / "fuzz-profile.yaml", data)


DETTECT_SEED = """version: 1.1
file_type: data-source-administration
name: fuzz
systems:
  - {applicable_to: Servers, platform: [Windows, Linux]}
data_sources:
  - data_source_name: Process Creation
    data_source:
      - applicable_to: [Servers]
        date_registered: 2025-01-01
        date_connected: 2025-02-01
        products: [Sysmon]
        available_for_data_analytics: true
        comment: ''
        data_quality: {device_completeness: 3, data_field_completeness: 3, timeliness: 3, consistency: 3, retention: 3}
  - data_source_name: Web [DeTT&CT data source]
    data_source: [{applicable_to: [all], products: [Proxy], data_quality: {timeliness: 2}}]
exceptions: [{technique_id: T1003}]
"""


@FUZZ
@given(data=_inputs(DETTECT_SEED))
def test_dettect_data_sources(bank: Path, kb18: AttackKB, data: bytes) -> None:
    catalog = load_catalog()
    _must_not_crash(lambda p: import_dettect(p, kb18, catalog), bank / "fuzz-ds.yaml", data)


# ----- rule readers --------------------------------------------------------------------------------------
ARM_SEED = json.dumps({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                       "resources": [{"type": "Microsoft.OperationalInsights/workspaces/providers/alertRules",
                                      "kind": "Scheduled", "properties": {
                                          "displayName": "Fuzz rule", "enabled": True, "severity": "High",
                                          "query": "SecurityEvent | where EventID == 4688",
                                          "tactics": ["Execution"], "techniques": ["T1059"]}}]}, indent=2)
NDJSON_SEED = "\n".join(json.dumps(r) for r in [
    {"rule_id": "a1", "name": "Fuzz ndjson", "type": "query", "enabled": True, "severity": "high",
     "index": ["logs-endpoint.events.*"], "query": "process.name:cmd.exe",
     "threat": [{"framework": "MITRE ATT&CK", "tactic": {"id": "TA0002", "name": "Execution"},
                 "technique": [{"id": "T1059", "name": "Command and Scripting Interpreter"}]}]},
    {"type": "exception-list", "list_id": "x"}]) + "\n"


def _first(folder: str, suffix: str) -> Path:
    return sorted((DEMO / "rules" / folder).rglob(f"*{suffix}"))[0]


RULE_SEEDS = {
    "sigma": (_first("sigma", ".yml"), ".yml", True),
    "splunk-escu": (_first("splunk/escu", ".yml"), ".yml", True),
    "splunk-conf": (DEMO / "rules" / "splunk" / "savedsearches.conf", ".conf", False),
    "elastic-toml": (_first("elastic", ".toml"), ".toml", False),
    "sentinel-yaml": (_first("sentinel", ".yaml"), ".yaml", True),
    "defender": (_first("defender", ".yaml"), ".yaml", True),
    "csv": (DEMO / "rules" / "network-team-rules.csv", ".csv", False),
    "dettect": (DEMO / "technique-scores.yaml", ".yaml", True),
}


@pytest.fixture(scope="module")
def ctx(kb18: AttackKB) -> ReadContext:
    return ReadContext(kb18)


def _read_never_raises(ctx: ReadContext, path: Path, data: bytes) -> None:
    path.write_bytes(data)
    result, rules = read_file(path, ctx)
    assert result.path == str(path)
    assert (result.skipped is not None) or result.rules == len(rules)


@pytest.mark.parametrize("name", list(RULE_SEEDS))
def test_rule_reader(name: str, tmp_path: Path, ctx: ReadContext) -> None:
    seed, suffix, structured = RULE_SEEDS[name]
    text = seed.read_text(encoding="utf-8")
    strategy = _inputs(text, structured) if not (structured and len(list(yaml.safe_load_all(text))) > 1) \
        else damaged_text(text)

    @FUZZ
    @given(data=strategy)
    def run(data: bytes) -> None:
        _read_never_raises(ctx, tmp_path / f"fuzz{suffix}", data)

    run()


@pytest.mark.parametrize(("seed", "suffix"), [(ARM_SEED, ".json"), (NDJSON_SEED, ".ndjson")],
                         ids=["sentinel-arm", "elastic-ndjson"])
def test_json_rule_reader(seed: str, suffix: str, tmp_path: Path, ctx: ReadContext) -> None:
    @FUZZ
    @given(data=damaged_text(seed))
    def run(data: bytes) -> None:
        _read_never_raises(ctx, tmp_path / f"fuzz{suffix}", data)

    run()
