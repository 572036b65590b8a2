"""``detcov profile layer``: group and campaign heat maps and group-vs-group overlay layers (DeTT&CT's
``group -g/-c/-o``), checked against ATT&CK's own relationships."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from detcov.attack import AttackKB
from detcov.outputs import colors
from detcov.outputs.navigator import validate_layer
from detcov.outputs.profile_layers import IN_BOTH, ONLY_OVERLAY, ONLY_SELECTION, campaign_actor

pytestmark = pytest.mark.attack_real


def test_group_heat_map_counts_groups_and_names_them(capsys: pytest.CaptureFixture[str], bundle18: Path,
                                                     kb18: AttackKB, tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "profile", "layer", "-g", "FIN7", "-g", "FIN8", "--attack", str(bundle18),
                             "--out", str(tmp_path / "heat.json"), "--html", str(tmp_path / "heat.html"))
    assert code == 0, err
    layer = json.loads((tmp_path / "heat.json").read_text(encoding="utf-8"))
    assert validate_layer(layer, kb18, oracle=True) == []
    fin7, fin8 = (kb18.technique_ids_of_group(g) for g in ("G0046", "G0061"))
    scores = {e["techniqueID"]: e["score"] for e in layer["techniques"]}
    assert set(scores) == {t for t in fin7 | fin8 if kb18.technique(t)}
    both = next(t for t in fin7 & fin8 if t in scores)
    assert scores[both] == 2
    entry = next(e for e in layer["techniques"] if e["techniqueID"] == both)
    assert "G0046 FIN7" in entry["comment"] and "G0061 FIN8" in entry["comment"]
    assert [i["label"] for i in layer["legendItems"]] == ["1 group", "2 groups"]
    assert "G0046 FIN7" in layer["name"] and "v18.1" in layer["description"] and "5.1.0" in layer["description"]
    assert (tmp_path / "heat.html").read_text(encoding="utf-8").count("Plotly.newPlot(") == 1


def test_campaign_heat_map(kb18: AttackKB, capsys: pytest.CaptureFixture[str], bundle18: Path,
                           tmp_path: Path) -> None:
    actor = campaign_actor(kb18, "C0022")
    direct = {u.target for u in kb18.uses_of("C0022") if u.target.startswith("T")}
    assert direct <= actor.techniques and actor.name
    assert campaign_actor(kb18, actor.name.upper()).id == "C0022"
    code, _, err = run_cli(capsys, "profile", "layer", "-c", "C0022", "--attack", str(bundle18),
                           "--out", str(tmp_path / "c.json"))
    assert code == 0, err
    layer = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert {e["techniqueID"] for e in layer["techniques"]} == actor.techniques
    assert layer["legendItems"] == [{"label": "1 campaign", "color": colors.PROFILE_GRADIENT[0]}]
    code, _, err = run_cli(capsys, "profile", "layer", "-c", "C9999", "--attack", str(bundle18),
                           "--out", str(tmp_path / "x.json"))
    assert code == 2 and "C9999" in err and not (tmp_path / "x.json").exists()


def test_group_overlay(capsys: pytest.CaptureFixture[str], bundle18: Path, kb18: AttackKB, tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "profile", "layer", "-g", "FIN7", "-o", "FIN8", "--attack", str(bundle18),
                           "--out", str(tmp_path / "o.json"))
    assert code == 0, err
    layer = json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))
    assert validate_layer(layer, kb18, oracle=True) == []
    fin7, fin8 = (kb18.technique_ids_of_group(g) & {t.id for t in kb18.techniques()} for g in ("G0046", "G0061"))
    colour = {e["techniqueID"]: e["color"] for e in layer["techniques"]}
    assert {t for t, c in colour.items() if c == IN_BOTH.color} == fin7 & fin8
    assert {t for t, c in colour.items() if c == ONLY_SELECTION.color} == fin7 - fin8
    assert {t for t, c in colour.items() if c == ONLY_OVERLAY.color} == fin8 - fin7
    meta = {m["name"]: m["value"] for m in layer["metadata"]}
    assert meta["In both"].startswith(f"{len(fin7 & fin8)} techniques")  # real counts, not "0 scored"
    assert f"{len(fin7 & fin8)} techniques in both" in layer["description"]
    assert all(len(i["label"]) <= colors.MAX_LABEL for i in layer["legendItems"])


def test_nothing_selected_is_a_clear_error(capsys: pytest.CaptureFixture[str], bundle18: Path,
                                           tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "profile", "layer", "--attack", str(bundle18), "--out", str(tmp_path / "n.json"))
    assert code == 2 and "-g GROUP" in err
