"""DeTT&CT round trip (issue 15): the export passes DeTT&CT's own health check, the import keeps its semantics.

DeTT&CT's rules for data-source administration files are encoded below from its ``health.py``
(rabobank-cdc/DeTTECT@7a0ac59, ``check_health_data_sources``) and docs/DETTECT.md, so the test runs everywhere.
When a DeTT&CT checkout is available (``DETCOV_DETTECT_SRC=/path/to/DeTTECT``), its real health check is run as
well, in a subprocess (nothing of DeTT&CT is imported into detcov or copied into this repository).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from detcov.datasources.catalog import load_catalog
from detcov.datasources.dettect import export_dettect, import_dettect, to_yaml
from detcov.datasources.inventory import Inventory, load_inventory_with_issues
from detcov.errors import DetcovError
from detcov.userfiles import load_yaml
from tests.conftest import REPO, shared_path

DEMO_INVENTORY = REPO / "examples" / "demo-bank" / "inventory.yaml"
PLATFORMS = {"pre", "windows", "macos", "linux", "office suite", "iaas", "saas", "network devices", "containers",
             "identity provider", "esxi"}
DETAIL_KEYS = ("applicable_to", "date_registered", "date_connected", "products", "available_for_data_analytics",
               "comment", "data_quality")
DQ = ("device_completeness", "data_field_completeness", "timeliness", "consistency", "retention")
TECHNIQUE_ID = re.compile(r"^T\d{4}(\.\d{3})?$")


def dettect_health(doc: Mapping[str, Any]) -> list[str]:
    """DeTT&CT's data-source health check, rule by rule; [] when DeTT&CT would accept the file."""
    errors: list[str] = []
    systems = set()
    for system in doc.get("systems") or []:
        errors += [f"platform {p!r}" for p in system["platform"] if p.lower() not in PLATFORMS | {"all"}]
        name = system["applicable_to"]
        if not name or name.lower() == "all" or name.lower() in systems:
            errors.append(f"system applicable_to {name!r} empty, 'all' or duplicate")
        systems.add(str(name).lower())
    used: set[str] = set()
    for source in doc["data_sources"]:
        seen: list[str] = []
        for detail in source["data_source"]:
            errors += [f"{source['data_source_name']}: missing {k}" for k in DETAIL_KEYS if k not in detail]
            for key in ("applicable_to", "products"):
                if not isinstance(detail[key], list) or None in detail[key]:
                    errors.append(f"{source['data_source_name']}: {key} not a list of values")
            for key in ("date_registered", "date_connected"):
                if detail[key] is not None and not isinstance(detail[key], dt.date):
                    errors.append(f"{source['data_source_name']}: {key} is not a YYYY-MM-DD date")
            if not isinstance(detail["available_for_data_analytics"], bool):
                errors.append(f"{source['data_source_name']}: available_for_data_analytics not a bool")
            quality = detail["data_quality"]
            errors += [f"{source['data_source_name']}: data quality {d}" for d in DQ
                       if not isinstance(quality.get(d), int) or not 0 <= quality[d] <= 5]
            if len(detail["applicable_to"]) > 1 and "all" in [a.lower() for a in detail["applicable_to"]]:
                errors.append(f"{source['data_source_name']}: 'all' combined with other systems")
            seen += detail["applicable_to"]
        if len(seen) != len(set(seen)):
            errors.append(f"{source['data_source_name']}: DUPLICATE system values in applicable_to")
        used |= {a.lower() for a in seen}
    errors += [f"applicable_to {a!r} is not a system" for a in used - systems - {"all"}]
    if "exceptions" in doc:
        exceptions = doc["exceptions"]
        if not exceptions:
            errors.append("exceptions: [] (DeTT&CT's check fails on an empty list)")
        errors += [f"exception {e.get('technique_id')!r}" for e in exceptions or []
                   if not TECHNIQUE_ID.match(str(e.get("technique_id")))]
    return errors


def _written(doc: Mapping[str, Any], path: Path) -> Any:
    path.write_text(to_yaml(doc), encoding="utf-8")
    return load_yaml(path)  # as DeTT&CT reads it: dates are dates again


def _real_dettect(path: Path, tmp: Path) -> None:
    source = os.environ.get("DETCOV_DETTECT_SRC")
    if not source or not (Path(source) / "health.py").is_file():
        pytest.skip("DeTT&CT's own health check not run: set DETCOV_DETTECT_SRC to a rabobank-cdc/DeTTECT checkout "
                    "(the encoded rules above ran)")
    (tmp / "cache").mkdir(exist_ok=True)  # DeTT&CT keeps its health state in ./cache
    script = ("import sys; sys.path.insert(0, sys.argv[1]); from ruamel.yaml import YAML; "
              "from health import check_health_data_sources as c; "
              "sys.exit(1 if c(sys.argv[2], YAML().load(open(sys.argv[2])), True) else 0)")
    done = subprocess.run([sys.executable, "-c", script, source, str(path)], cwd=tmp, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_encoded_health_check_catches_what_dettect_refuses() -> None:
    detail = {"applicable_to": ["Servers"], "date_registered": dt.date(2025, 1, 1), "date_connected": None,
              "products": ["EDR"], "available_for_data_analytics": True, "comment": "",
              "data_quality": dict.fromkeys(DQ, 3)}
    good = {"systems": [{"applicable_to": "Servers", "platform": ["Windows"]}],
            "data_sources": [{"data_source_name": "Process Creation", "data_source": [detail]}]}
    assert dettect_health(good) == []
    assert dettect_health({**good, "exceptions": []})
    assert dettect_health({**good, "data_sources": [{"data_source_name": "Process Creation",
                                                     "data_source": [detail, detail]}]})


def test_the_demo_inventory_export_passes_dettects_health_check(tmp_path: Path, kb18: Any) -> None:
    cat = load_catalog()
    inv, _, _ = load_inventory_with_issues(DEMO_INVENTORY, kb18, cat)
    path = tmp_path / "data-sources.yaml"
    back = _written(export_dettect(inv, kb18, cat), path)
    assert dettect_health(back) == []
    assert "exceptions" not in back
    _real_dettect(path, tmp_path)


def test_platform_limited_components_are_exported_only_where_they_count(kb18: Any) -> None:
    cat = load_catalog()
    inv, _, _ = load_inventory_with_issues(DEMO_INVENTORY, kb18, cat)
    doc = export_dettect(inv, kb18, cat)
    platforms = {g.applicable_to: set(g.platforms) for g in inv.system_groups}
    registry = next(s for s in doc["data_sources"] if s["data_source_name"] == "Windows Registry Key Creation")
    systems = {a for d in registry["data_source"] for a in d["applicable_to"]}
    assert systems and all("Windows" in platforms[s] for s in systems)


def test_import_keeps_dettect_semantics_and_round_trips(tmp_path: Path, kb18: Any) -> None:
    source = shared_path("dettect-samples", "data-sources-endpoints.yaml")
    cat = load_catalog()
    doc, issues = import_dettect(source, kb18, cat)
    inv = Inventory.model_validate(doc)
    own = {d.type: d for d in inv.devices if d.type in ("web-proxy", "dns")}
    assert set(own) == {"web-proxy", "dns"}
    for device in own.values():  # DeTT&CT counts them for its own technique list only: no catalogue components
        assert {c.component for c in cat.get(device.type).components} == set(device.missing_components)  # type: ignore[union-attr]
    assert any("DeTT&CT counts it for its own technique list only" in i.message for i in issues)
    original = load_yaml(source)
    assert [e.technique_id for e in inv.exceptions] == [str(e["technique_id"]) for e in original["exceptions"]]
    path = tmp_path / "back.yaml"
    back = _written(export_dettect(inv, kb18, cat), path)
    assert dettect_health(back) == []
    assert [e["technique_id"] for e in back["exceptions"]] == [e.technique_id for e in inv.exceptions]
    names = {s["data_source_name"] for s in back["data_sources"]}
    assert {"Web [DeTT&CT data source]", "Internal DNS [DeTT&CT data source]"} <= names
    _real_dettect(path, tmp_path)


@pytest.mark.parametrize(("body", "expected"), [
    ("data_sources: 5\n", ":8:1: data_sources is 5, not a list"),
    ("data_sources:\n  - 7\n", ":9:5: data source item 1 is 7, not a mapping"),
    ("data_sources:\n  - data_source_name: Process Creation\n    data_source: true\n",
     ":10:5: data_source is true, not a list of detail objects"),
    ("data_sources:\n  - data_source_name: Process Creation\n    data_source:\n      - applicable_to: [all]\n"
     "        products: Sysmon\n        data_quality: {timeliness: 9}\n", "data quality timeliness is 9"),
])
def test_a_malformed_dettect_file_is_refused_at_its_line(tmp_path: Path, kb18: Any, body: str, expected: str) -> None:
    path = tmp_path / "ds.yaml"
    path.write_text("version: 1.1\nfile_type: data-source-administration\nname: x\ndomain: enterprise-attack\n"
                    "systems:\n  - applicable_to: Servers\n    platform: [Windows]\n" + body, encoding="utf-8")
    with pytest.raises(DetcovError) as err:
        import_dettect(path, kb18, load_catalog())
    assert expected in str(err.value)


# ----- technique administration written by detcov (like DeTT&CT `ds -y` / `ds -u`) -----------------------------
def test_techniques_dettect_writes_and_updates_technique_administration(tmp_path: Path, bundle18: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from detcov.datasources.techadmin import check_technique_admin
    from tests.conftest import run_cli

    new = tmp_path / "techniques.yaml"
    code, _, err = run_cli(capsys, "inventory", "techniques-dettect", str(DEMO_INVENTORY), "-o", str(new),
                           "--attack", str(bundle18))
    assert code == 0, err
    doc = yaml.safe_load(new.read_text(encoding="utf-8"))
    assert check_technique_admin(doc, new) == [] and "&id" not in new.read_text()
    entries = [e for t in doc["techniques"] for v in t["visibility"] for e in v["score_logbook"]]
    assert entries and all(e["auto_generated"] is True and 1 <= e["score"] <= 4 for e in entries)
    manual = REPO / "examples" / "demo-bank" / "technique-scores.yaml"
    merged = tmp_path / "merged.yaml"
    code, _, err = run_cli(capsys, "inventory", "techniques-dettect", str(DEMO_INVENTORY), "-u", str(manual),
                           "-o", str(merged), "--attack", str(bundle18))
    assert code == 0 and "kept the manual visibility score 4" in err, err
    before = yaml.safe_load(manual.read_text(encoding="utf-8"))
    after = yaml.safe_load(merged.read_text(encoding="utf-8"))
    old = {t["technique_id"]: t for t in before["techniques"]}
    for tech in after["techniques"]:
        if tech["technique_id"] in old:  # every logbook entry a person wrote is still there, unchanged
            was = old[tech["technique_id"]]
            assert tech["detection"] == was["detection"]
            kept = was["visibility"]["score_logbook"]
            assert tech["visibility"][0]["score_logbook"][:len(kept)] == kept
    assert len(after["techniques"]) > len(before["techniques"])


def test_an_update_adds_a_logbook_entry_only_when_the_score_changed() -> None:
    from detcov.datasources.techadmin import technique_admin, update_technique_admin

    day1, day2 = dt.date(2026, 1, 5), dt.date(2026, 4, 5)
    doc = technique_admin("bank", ["Windows"], {"T1059": ("Command", {"Servers": 2, "Workstations": 3})}, day1)
    assert update_technique_admin(doc, {"T1059": ("Command", {"Servers": 2, "Workstations": 3})}, day2) == []
    logbooks = {v["applicable_to"][0]: v["score_logbook"] for v in doc["techniques"][0]["visibility"]}
    assert [len(b) for b in logbooks.values()] == [1, 1]  # unchanged: no new entry
    update_technique_admin(doc, {"T1059": ("Command", {"Servers": 4, "Workstations": 3})}, day2)
    assert [(e["date"], e["score"]) for e in logbooks["Servers"]] == [(day1, 2), (day2, 4)]
    logbooks["Servers"].append({"date": dt.date(2026, 5, 1), "score": 1, "comment": "analyst"})  # a person's
    notes = update_technique_admin(doc, {"T1059": ("Command", {"Servers": 3, "Workstations": 3})}, day2)
    assert [e["score"] for e in logbooks["Servers"]] == [2, 4, 1] and "kept the manual visibility score 1" in \
        notes[0].message
