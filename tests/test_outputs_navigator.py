"""Navigator layers built from the real ATT&CK bundles: structure, DeTT&CT colours, validation, files."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from mitreattack.navlayers import Layer

from detcov.attack import AttackKB
from detcov.errors import Severity
from detcov.outputs import colors
from detcov.outputs.navigator import (
    TechniqueCell,
    View,
    build_layer,
    full_legend,
    validate_layer,
    write_layer,
)


def id_number(tid: str) -> int:
    return int(tid[1:5]) + (int(tid[6:]) if "." in tid else 0)


def view_cells(kb: AttackKB, view: View) -> dict[str, TechniqueCell]:
    """Deterministic cells for every active technique, scores derived from the technique id."""
    cells: dict[str, TechniqueCell] = {}
    for tech in kb.techniques():
        n = id_number(tech.id)
        score: float | None
        band = None
        if view is View.VISIBILITY:
            score = n % 5
        elif view in (View.DETECTION, View.PREVENTION):
            score = None if n % 11 == 0 else (n % 7 - 1 if view is View.DETECTION else n % 4)
        elif view is View.VISIBILITY_DETECTION:
            score = None
            band = colors.visibility_detection_band(n % 5, n % 7 - 1) or colors.NEITHER
        elif view is View.PROFILE_DETECTION:
            score = float(n % 4)
            band = colors.profile_detection_band(n % 4, n % 9 - 3, 3) or colors.OUT_OF_SCOPE
        else:  # profile, gaps: weights
            score = (n % 13) / 2
        cells[tech.id] = TechniqueCell(
            tech.id, score, comment=f"{tech.name}: derived score for the test 測試",
            metadata=(("derived from", tech.id), ("empty", "")), band=band, enabled=n % 17 != 0)
    return cells


@pytest.mark.parametrize("view", list(View))
def test_every_view_builds_a_valid_layer(kb_any: AttackKB, view: View) -> None:
    cells = view_cells(kb_any, view)
    layer = build_layer(kb_any, view, cells, name=f"detcov {view.value}", description="test layer")
    assert validate_layer(layer, kb_any, oracle=True) == []
    assert layer["versions"] == {"attack": (kb_any.version or "").split(".")[0], "navigator": "5.1.0",
                                 "layer": "4.5"}
    assert layer["domain"] == "enterprise-attack"
    assert {e["techniqueID"] for e in layer["techniques"]} == set(cells)
    # the legend lists exactly the bands the entries use, in the view's order, each short enough for the panel
    used = {e["color"] for e in layer["techniques"] if "color" in e}
    assert {i["color"] for i in layer["legendItems"]} == used
    order = [b.label for b in full_legend(view, upper=layer["gradient"]["maxValue"])]
    labels = [i["label"] for i in layer["legendItems"]]
    assert labels == sorted(labels, key=order.index)
    assert all(len(lbl) <= colors.MAX_LABEL for lbl in labels)
    gradient = layer["gradient"]
    assert gradient["minValue"] < gradient["maxValue"]
    scores = [c.score for c in cells.values() if c.score is not None]
    if scores:
        assert gradient["maxValue"] >= max(scores)
    # the same layer, loaded by mitreattack-python, keeps every technique entry
    with contextlib.redirect_stdout(io.StringIO()):
        loaded = Layer()
        loaded.from_dict(layer)
        out = loaded.to_dict()
    assert out is not None and len(out["techniques"]) == len(layer["techniques"])


def test_one_entry_per_technique_tactic(kb18: AttackKB) -> None:
    cells = view_cells(kb18, View.DETECTION)
    layer = build_layer(kb18, View.DETECTION, cells, name="d", description="")
    multi = next(t for t in kb18.techniques() if len(t.tactics) > 2)
    entries = [e for e in layer["techniques"] if e["techniqueID"] == multi.id]
    assert [e["tactic"] for e in entries] == list(multi.tactics)
    assert len(layer["techniques"]) == sum(len(kb18.technique(t).tactics) for t in cells)  # type: ignore[union-attr]


def test_entries_carry_scores_colours_and_explanations(kb18: AttackKB) -> None:
    cells = view_cells(kb18, View.DETECTION)
    layer = build_layer(kb18, View.DETECTION, cells, name="d", description="")
    for entry in layer["techniques"]:
        cell = cells[entry["techniqueID"]]
        if cell.score is None:
            assert "score" not in entry and "color" not in entry
        else:
            assert entry["score"] == cell.score
            assert entry["color"] == colors.DETECTION_SCALE.color(cell.score)
            if cell.score < 0:  # "no rule" is not white: white is "not in the layer"
                assert entry["color"] != colors.WHITE
        assert entry["comment"] == cell.comment and entry["enabled"] == cell.enabled
        assert entry["metadata"] == [{"name": "derived from", "value": cell.technique},
                                     {"name": "empty", "value": "-"}]
    # parents whose sub-techniques are drawn differently from them are expanded in Navigator; others not
    colour = {e["techniqueID"]: e.get("color") for e in layer["techniques"]}
    for entry in layer["techniques"]:
        subs = {colour.get(s.id) for s in kb18.subtechniques(entry["techniqueID"]) if s.id in colour} - {None}
        assert entry["showSubtechniques"] == bool(subs and subs != {colour[entry["techniqueID"]]})


def test_overlay_colours_come_from_the_cells(kb18: AttackKB) -> None:
    cells = view_cells(kb18, View.VISIBILITY_DETECTION)
    layer = build_layer(kb18, View.VISIBILITY_DETECTION, cells, name="o", description="")
    by_id = {e["techniqueID"]: e for e in layer["techniques"]}
    both = [t for t, c in cells.items() if c.band == colors.BOTH]
    assert both and all(by_id[t]["color"] == colors.OVERLAY_BOTH for t in both)
    legend_colors = {item["color"] for item in layer["legendItems"]}
    assert {c.color for c in cells.values() if c.color} <= legend_colors


def test_profile_layer_sorts_by_score_and_lists_platforms(kb18: AttackKB) -> None:
    cells = view_cells(kb18, View.PROFILE)
    layer = build_layer(kb18, View.PROFILE, cells, name="p", description="", platforms=["Windows", "Linux"])
    assert layer["sorting"] == 3
    assert layer["filters"] == {"platforms": ["Windows", "Linux"]}
    assert layer["gradient"]["colors"] == list(colors.PROFILE_GRADIENT)
    meta = {m["name"]: m["value"] for m in layer["metadata"]}
    assert meta["view"] == "profile" and kb18.info.sha256 == meta["ATT&CK bundle sha256"]
    # one metadata line per legend entry, with the real number of techniques drawn in it
    for item in layer["legendItems"]:
        drawn = {e["techniqueID"] for e in layer["techniques"] if e.get("color") == item["color"]}
        assert meta[item["label"]].startswith(f"{len(drawn)} techniques: ")


def test_description_states_attack_and_navigator_versions(kb18: AttackKB) -> None:
    layer = build_layer(kb18, View.DETECTION, {}, name="d", description="Does a healthy rule fire? Roll-up: x")
    text = layer["description"]
    assert "?." not in text and text.endswith(".")
    assert f"v{kb18.version}" in text and "Navigator 5.1.0" in text and "4.5" in text


def _messages(layer: dict[str, object], kb: AttackKB) -> list[str]:
    return [f"{i.severity.value}: {i.message}" for i in validate_layer(layer, kb, source="bad.json", oracle=True)]


def test_validation_reports_bad_entries(kb18: AttackKB) -> None:
    cells = {t: TechniqueCell(t, 2) for t in ("T1059.001", "T1078")}
    layer = build_layer(kb18, View.DETECTION, cells, name="d", description="")
    layer["techniques"] += [
        {"techniqueID": "T9999", "score": 1},
        {"techniqueID": "T1059.001", "tactic": "impact", "score": "high", "color": "green"},
        {"techniqueID": "T1078", "tactic": "persistence", "score": 1},
        {"score": 3},
        {"techniqueID": "T1078", "tactic": "initial-access", "metadata": [{"name": "", "value": "x"}]},
    ]
    layer["filters"]["platforms"].append("AWS")
    messages = _messages(layer, kb18)
    expected = [
        "error: techniques[", "(T9999): technique id not in ATT&CK",
        "tactic 'impact' is not a tactic of this technique", "score 'high' is not a number",
        "color 'green' is not '#rrggbb'", "duplicate entry for T1078 / persistence", "has no techniqueID",
        "needs a name and a non-empty string value",
        "warning: filters.platforms has 'AWS'",
        "error: mitreattack-python's Layer loader rejected the layer",  # the string score
    ]
    for fragment in expected:
        assert any(fragment in m for m in messages), (fragment, messages)
    issues = validate_layer(layer, kb18, source="bad.json")
    assert all(i.location is not None and i.location.path == "bad.json" for i in issues)


def test_validation_reports_bad_header(kb18: AttackKB) -> None:
    layer = build_layer(kb18, View.VISIBILITY, {}, name="v", description="")
    layer.update(domain="mobile-attack", extra=True,
                 gradient={"colors": ["#ffffff"], "minValue": 0, "maxValue": 4})
    layer["versions"]["layer"] = "9.9"
    messages = _messages(layer, kb18)
    for fragment in ("unknown layer property 'extra'", "differs from the ATT&CK bundle",
                     "versions.layer is not '4.5'", "gradient.colors needs at least two",
                     "Layer loader rejected the layer"):
        assert any(fragment in m for m in messages), (fragment, messages)


def test_revoked_technique_is_a_warning(kb18: AttackKB) -> None:
    revoked = next(t for t in kb18.data.techniques if t.revoked)
    cells = {revoked.id: TechniqueCell(revoked.id, 1)}
    layer = build_layer(kb18, View.DETECTION, cells, name="d", description="")
    issues = [i for i in validate_layer(layer, kb18) if revoked.id in i.message]
    assert issues and all(i.severity is Severity.WARNING for i in issues)


def test_write_layer_is_utf8_and_loads_back(kb18: AttackKB, tmp_path: Path) -> None:
    cells = view_cells(kb18, View.VISIBILITY)
    layer = build_layer(kb18, View.VISIBILITY, cells, name="可見度 visibility", description="中文說明")
    path = write_layer(tmp_path / "out" / "visibility.json", layer)
    raw = path.read_bytes()
    assert not raw.startswith((b"\xff\xfe", b"\xef\xbb\xbf"))  # UTF-8 without BOM, unlike navlayers' to_file
    assert json.loads(raw.decode("utf-8")) == layer
    with contextlib.redirect_stdout(io.StringIO()):
        loaded = Layer()
        loaded.from_file(str(path))
    assert loaded.to_dict()["name"] == "可見度 visibility"  # type: ignore[index]
    assert [p.name for p in path.parent.iterdir()] == ["visibility.json"]  # no temp file left behind
