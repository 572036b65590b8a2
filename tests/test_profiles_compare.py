"""Jaccard overlap of groups and profiles, the group × group matrix, and the ``detcov profile`` CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from detcov.apt_profiles import (
    WeightOptions,
    compare_profiles,
    jaccard,
    load_profile,
    load_profile_or_group,
    similarity_clusters,
    similarity_matrix,
    weighted_jaccard,
)
from detcov.attack import AttackKB
from detcov.attack.model import Provenance
from detcov.cli import main as cli_main

ids = st.frozensets(st.sampled_from([f"T{n}" for n in range(1000, 1030)]))


@given(ids, ids)
def test_jaccard_properties(a: frozenset[str], b: frozenset[str]) -> None:
    j = jaccard(a, b)
    assert 0.0 <= j <= 1.0 and j == jaccard(b, a)
    assert (j == 1.0) == (a == b and bool(a))
    assert weighted_jaccard(dict.fromkeys(a, 1.0), dict.fromkeys(b, 1.0)) == pytest.approx(j)


def test_compare_add_on_with_full_profile(kb18: AttackKB) -> None:
    full = load_profile("financial-sector", kb18)
    addon = load_profile("taiwan-financial", kb18)
    c = compare_profiles(addon, full, kb18)
    assert c.only_a == frozenset()  # the add-on is included in financial-sector
    assert c.shared == addon.technique_ids()
    assert c.jaccard == pytest.approx(len(addon.technique_ids()) / len(full.technique_ids()))


def test_compare_two_groups(kb18: AttackKB) -> None:
    fin7, carbanak = load_profile_or_group("FIN7", kb18), load_profile_or_group("G0008", kb18)
    a, b = kb18.technique_ids_of_group("G0046"), kb18.technique_ids_of_group("G0008")
    c = compare_profiles(fin7, carbanak, kb18)
    assert c.shared == a & b and c.only_a == a - b and c.only_b == b - a
    assert c.jaccard == pytest.approx(len(a & b) / len(a | b))


def test_similarity_matrix(kb18: AttackKB) -> None:
    p = load_profile("taiwan-financial", kb18)
    m = similarity_matrix(p)
    assert list(m.index) == list(p.group_ids) == list(m.columns)
    assert (m.to_numpy() == m.to_numpy().T).all() and (m.to_numpy().diagonal() == 1.0).all()
    x, y = kb18.technique_ids_of_group("G0096"), kb18.technique_ids_of_group("G1006")
    assert m.loc["G0096", "G1006"] == pytest.approx(len(x & y) / len(x | y))
    direct = similarity_matrix(p, WeightOptions.counts((Provenance.DIRECT,)))
    dx = kb18.technique_ids_of_group("G0096", (Provenance.DIRECT,))
    dy = kb18.technique_ids_of_group("G1006", (Provenance.DIRECT,))
    assert direct.loc["G0096", "G1006"] == pytest.approx(len(dx & dy) / len(dx | dy))
    clusters = similarity_clusters(m, threshold=float(m.loc["G0096", "G1006"]))
    assert any({"G0096", "G1006"} <= set(c) for c in clusters)
    assert similarity_clusters(m, threshold=1.0) == []


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def _run(runner: CliRunner, bundle18: Path, *args: str) -> tuple[int, str]:
    args = ("profile", *args, "--attack", str(bundle18))
    result = runner.invoke(cli_main.cli, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_cli_list_and_show(runner: CliRunner, bundle18: Path) -> None:
    code, out = _run(runner, bundle18, "list")
    assert code == 0 and "financial-sector (default)" in out and "taiwan-financial" in out
    code, out = _run(runner, bundle18, "show", "--top", "5", "--counts", "--rollup")
    assert code == 0, out
    assert "20 groups" in out and "G0082 APT38" in out and "roll-up on" in out
    assert "T1059 " in out and "Command and Scripting Interpreter" in out  # top rolled-up technique
    assert "TA0040 Impact" in out


def test_cli_compare(runner: CliRunner, bundle18: Path) -> None:
    code, out = _run(runner, bundle18, "compare", "FIN7", "Carbanak", "--weight", "software=0")
    assert code == 0, out
    assert "Jaccard" in out and "only FIN7" in out
    code, out = _run(runner, bundle18, "compare", "taiwan-financial", "--top", "3")
    assert code == 0, out
    assert "Most similar pairs" in out and "G0096 — G1006" in out


def test_cli_bad_input_is_one_line_per_issue(tmp_path: Path, bundle18: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nfile_type: apt-profile\ngroups: [FIN-7, G9999]\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        cli_main.main(["profile", "show", str(bad), "--attack", str(bundle18)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"{bad}:3:" in err and "G9999" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exc:
        cli_main.main(["profile", "show", "--weight", "software", "--attack", str(bundle18)])
    assert exc.value.code == 2
