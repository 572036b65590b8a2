"""Readers against the real corpora in ../shared/rules-corpora: counts computed here independently (file globs,
plain regexes over the text) must match what the readers report, and a few hand-checked rules."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from detcov.attack import AttackKB, IdStatus
from detcov.rules import RuleFormat, RuleSet, RuleStatus, read_rules
from tests.conftest import shared_path

SIGMA_TAG = re.compile(r"^\s*-\s*attack\.t\d{4}(?:\.\d{3})?\s*$", re.MULTILINE | re.IGNORECASE)


def _read(kb: AttackKB, *parts: str) -> tuple[Path, RuleSet]:
    root = shared_path("rules-corpora", *parts)
    return root, read_rules([root], kb)


def _by_file(ruleset: RuleSet, path: Path) -> list:  # type: ignore[type-arg]
    return [r for r in ruleset.rules if r.path == str(path)]


def _accounted(root: Path, ruleset: RuleSet) -> None:
    files = [p for p in root.rglob("*") if p.is_file()]
    assert len(ruleset.files) == len(files)
    assert ruleset.files_parsed + ruleset.files_skipped == len(files)
    assert sum(f.rules for f in ruleset.files) == len(ruleset)


def test_sigma_corpus(kb18: AttackKB) -> None:
    root, rs = _read(kb18, "sigma")
    _accounted(root, rs)
    ymls = list((root / "rules").rglob("*.yml"))
    texts = [p.read_text(encoding="utf-8") for p in ymls]
    assert len(rs) == len(ymls)
    assert sum(1 for r in rs.rules if r.techniques) == sum(1 for t in texts if SIGMA_TAG.search(t))
    assert all(r.format is RuleFormat.SIGMA for r in rs.rules)
    statuses = {s: sum(1 for t in texts if re.search(rf"^status: {s}\s*$", t, re.MULTILINE))
                for s in ("experimental",)}
    assert rs.by_status()["experimental"] == statuses["experimental"]
    # v19 ids in current SigmaHQ are counted through the crosswalk or reported, never dropped
    problems = dict(rs.technique_problems().keys())  # (id, status) pairs
    assert problems["T1685"] == problems["T1685.001"] == IdStatus.CROSSWALKED.value
    assert problems["T1686.002"] == IdStatus.UNKNOWN.value
    skipped = [f for f in rs.files if not f.parsed]
    assert all(f.skipped and f.skipped.startswith("not a rule") for f in skipped)


def test_sigma_hand_checked(kb18: AttackKB) -> None:
    root, rs = _read(kb18, "sigma", "rules", "windows", "process_creation")
    path = root / "proc_creation_win_cmd_http_appdata.yml"
    (rule,) = _by_file(rs, path)
    assert rule.id == "1ac8666b-046f-4201-8aba-1951aaec03a3"
    assert rule.technique_ids == ("T1059.003", "T1059.001", "T1105")
    assert rule.tactics == ("execution", "command-and-control")
    assert rule.status is RuleStatus.ENABLED and rule.raw_status == "test" and rule.severity == "medium"
    assert rule.platforms == ("Windows",)
    assert rule.log_sources[0].mapped
    assert {"sysmon", "windows-security", "edr"} == rule.log_sources[0].needs[0].device_types
    assert rule.query.startswith("detection:") and "%AppData%" in rule.query


def test_elastic_corpus(kb18: AttackKB) -> None:
    root, rs = _read(kb18, "elastic")
    _accounted(root, rs)
    tomls = list(root.rglob("*.toml"))
    texts = [p.read_text(encoding="utf-8") for p in tomls]
    assert len(rs) == len(tomls)
    with_technique = sum(1 for t in texts if re.search(r'^\s*id = "T\d{4}', t, re.MULTILINE))
    assert sum(1 for r in rs.rules if r.techniques) == with_technique
    deprecated = sum(1 for t in texts if re.search(r'^maturity = "deprecated"', t, re.MULTILINE))
    assert rs.by_status()["deprecated"] == deprecated
    rule = next(r for r in rs.rules if r.id == "1dee0500-4aeb-44ca-b24b-4a285d7b6ba1")
    assert set(rule.technique_ids) == {"T1114", "T1114.001", "T1559", "T1559.001"}
    assert set(rule.tactics) == {"collection", "execution"}


def test_kibana_ndjson(kb18: AttackKB) -> None:
    root, rs = _read(kb18, "elastic-ndjson")
    path = root / "custom-consolidated-rules.ndjson"
    (result,) = [f for f in rs.files if f.path == str(path)]
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert result.rules == sum(1 for ln in lines if "risk_score" in json.loads(ln))  # only rules have a risk score
    assert result.rules + result.items_skipped == len(lines)
    assert all(r.format is RuleFormat.KIBANA_JSON for r in rs.rules)


def test_splunk_escu_corpus(kb18: AttackKB) -> None:
    root, rs = _read(kb18, "splunk")
    _accounted(root, rs)
    detections = list((root / "detections").rglob("*.yml"))
    assert len(rs) == len(detections)
    definitions = sum(1 for f in rs.files if f.skipped == "not a rule: Splunk data-source definition")
    assert definitions == len(list((root / "data_sources").rglob("*.yml")))
    tagged = sum(1 for p in detections
                 if re.search(r"mitre_attack_id:\s*\n\s*-\s*T\d{4}", p.read_text(encoding="utf-8")))
    assert sum(1 for r in rs.rules if r.techniques) == tagged
    (rule,) = _by_file(rs, root / "detections" / "endpoint" / "msi_module_loaded_by_non_system_binary.yml")
    revoked = {r.id: r for r in rule.revoked_techniques}
    assert revoked["T1574.002"].current == "T1574.001"
    assert "T1574.001" in rule.technique_ids


def test_splunk_savedsearches(kb18: AttackKB) -> None:
    root, rs = _read(kb18, "splunk-savedsearches")
    path = root / "savedsearches.conf"
    source = path.read_text(encoding="utf-8")
    (result,) = [f for f in rs.files if f.path == str(path)]
    assert result.rules + result.items_skipped == len(re.findall(r"^\[", source, re.MULTILINE))
    labels = set(re.findall(r"^action\.correlationsearch\.label = (.*)$", source, re.MULTILINE))
    assert result.rules == len(labels)
    first = next(r for r in rs.rules if r.id == "ESCU - Path traversal SPL injection - Rule")
    assert first.technique_ids == ("T1083",) and first.status is RuleStatus.DISABLED
    assert first.location.line == 9
    deprecated = sum(1 for label in labels if label.startswith("ESCU - Deprecated - "))
    assert rs.by_status()["deprecated"] == deprecated


def test_sentinel_and_defender(kb18: AttackKB) -> None:
    root, rs = _read(kb18, "sentinel")
    _accounted(root, rs)
    yamls = list(root.rglob("*.yaml"))
    assert len(rs) == sum(1 for p in yamls if re.search(r"^query:", p.read_text(encoding="utf-8"), re.MULTILINE))
    (rule,) = _by_file(rs, root / "azure-sentinel-2020" / "OfficeActivity" / "office_policytampering.yaml")
    assert rule.technique_ids == ("T1098", "T1562.001")  # T1089 revoked → Impair Defenses: Disable Tools
    root_d, rs_d = _read(kb18, "defender")
    texts = [p.read_text(encoding="utf-8") for p in root_d.rglob("*.yaml")]
    assert len(rs_d) == sum(1 for t in texts if "queryCondition:" in t)
    assert all(r.techniques and r.log_sources for r in rs_d.rules)


def test_dettect_administration(kb18: AttackKB) -> None:
    import yaml

    path = shared_path("dettect-samples", "techniques-administration-endpoints.yaml")
    rs = read_rules([path], kb18)
    (result,) = rs.files
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    objects = sum(len(t["detection"]) if isinstance(t["detection"], list) else 1 for t in doc["techniques"])
    assert result.format is RuleFormat.DETTECT
    assert result.rules + result.items_skipped == objects
    assert all(r.score is not None and (r.score >= 0 or r.title) for r in rs.rules)


@pytest.mark.parametrize("fmt", ["sigma", "elastic"])
def test_format_filter_skips_other_families(kb18: AttackKB, fmt: str) -> None:
    root = shared_path("rules-corpora", "defender")
    rs = read_rules([root], kb18, fmt)
    assert len(rs) == 0
    assert any(f.skipped and f.skipped.startswith(f"not a {fmt} rule") for f in rs.files)


def test_shallow_detection_reads_every_sigma_file_as_a_full_load_does() -> None:
    """A scan builds only the condition of a Sigma ``detection``; every other key of every SigmaHQ file must come
    out exactly as a full YAML load gives it."""
    from detcov.rules.common import SkipFile, yaml_documents

    shallow = frozenset({"detection"})
    checked = 0
    for path in sorted(shared_path("rules-corpora", "sigma").rglob("*.yml")):
        source = path.read_text(encoding="utf-8-sig")
        try:
            full = yaml_documents(source)
        except SkipFile:
            continue
        part = yaml_documents(source, shallow=shallow)
        assert len(part) == len(full), path
        for a, b in zip(full, part, strict=True):
            if not isinstance(a, dict):
                assert a == b, path
                continue
            assert a.keys() == b.keys(), path
            assert {k: v for k, v in a.items() if k != "detection"} == {k: v for k, v in b.items() if k != "detection"}
            if isinstance(a.get("detection"), dict):
                assert a["detection"].keys() == b["detection"].keys(), path
                assert a["detection"].get("condition") == b["detection"].get("condition"), path
        checked += 1
    assert checked > 3000


def test_shallow_detection_keeps_merge_keys_and_nested_values_whole() -> None:
    from detcov.rules.common import yaml_documents

    text = ("base: &sel {Image: a.exe}\ntitle: t\ndetection:\n  <<: {extra: 1}\n  sel: *sel\n  condition: sel\n"
            "---\ntitle: u\ndetection:\n  sel: {CommandLine|contains: [x, y]}\n  list: [1, 2]\n"
            "  condition: [sel, list]\n")
    first, second = yaml_documents(text, shallow=frozenset({"detection"}))
    assert first["detection"] == {"extra": 1, "sel": {"Image": "a.exe"}, "condition": "sel"}  # merge: built whole
    assert second["detection"] == {"sel": None, "list": [1, 2], "condition": ["sel", "list"]}


def test_a_read_without_queries_is_the_same_read_less_the_query_text(kb18: AttackKB) -> None:
    """What a scan reads (no query text; Sigma does not even build it) is every corpus's rules as a full read gives
    them, query aside."""
    root = shared_path("rules-corpora")
    full = read_rules([root], kb18, use_cache=False, workers=1)
    lean = read_rules([root], kb18, use_cache=False, workers=1, queries=False)
    assert len(full.rules) > 5000 and any(r.query for r in full.rules)
    assert all(not r.query for r in lean.rules)
    assert [r.without_query() for r in full.rules] == list(lean.rules)
    assert full.files == lean.files
