"""The sector merge: counts equal a plain recomputation, k-suppression, validation, mixed ATT&CK versions."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from detcov.attack import AttackKB
from detcov.errors import DetcovError, Severity
from detcov.sector.inputs import discover
from detcov.sector.merge import band_columns, merge_folder
from detcov.sector.model import ALL, Group, MemberCell, MemberCoverage
from detcov.sector.share import build_share, write_share
from detcov.sector.synthetic import member, write_sector_shares
from detcov.sector.table import technique_rows, top_gaps, weighted_shares

TECHNIQUES = ("T1059.001", "T1003.001", "T1021.001", "T1566.001", "T1486", "T1190", "T1078", "T1055")


def _oracle(folder: Path) -> dict[tuple[str, str], dict[str, int]]:
    """Institutions per (technique, scope class) and band, recomputed in plain Python from the Parquet rows."""
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for path in folder.glob("*.parquet"):
        for row in pq.read_table(path).to_pylist():
            counts = out[(row["technique"], row["scope_class"])]
            counts["members"] += 1
            for col, score, band in band_columns():
                counts[col] += row[score] == band
            counts["blind_or_undetected"] += row["visibility"] == 0 or row["detection"] == 0
    return out


def test_merge_counts_equal_a_plain_recomputation(tmp_path: Path, kb18: AttackKB) -> None:
    write_sector_shares(tmp_path, TECHNIQUES, {"T1059.001": 3.0, "T1486": 1.0}, 12, seed=7)
    sector = merge_folder(tmp_path, kb18, k=3)
    expected = _oracle(tmp_path)
    got = {(r["technique"], r["scope_class"]): r for r in sector.classes}
    got.update({(r["technique"], ALL): r for r in sector.techniques})
    assert set(got) == set(expected)
    for key, counts in expected.items():
        row = got[key]
        assert row["members"] == counts["members"]
        if row["suppressed"]:
            assert counts["members"] < 3 and row["vis_blind"] is None
        else:
            assert {c: row[c] for c in counts if c != "members"} == {c: v for c, v in counts.items() if c != "members"}
    assert sector.members == 12 and sector.versions == {"18.1": 12}
    assert all(len(v) == 12 and v == sorted(v) for v in sector.kpis.values())


def test_the_top_gaps_rank_by_weight_times_share_blind_or_undetected(tmp_path: Path, kb18: AttackKB) -> None:
    write_sector_shares(tmp_path, TECHNIQUES, {"T1059.001": 3.0, "T1486": 1.0, "T1190": 0.5}, 10, seed=3)
    rows = technique_rows(merge_folder(tmp_path, kb18, k=3), kb18)
    gaps = top_gaps(rows, 5)
    assert {g.technique for g in gaps} <= {"T1059.001", "T1486", "T1190"}  # weight 0: never a sector gap
    assert [g.gap_score for g in gaps] == sorted((g.gap_score for g in gaps), reverse=True)
    for g in gaps:
        assert g.gap_score == pytest.approx(g.weight * g.counts["blind_or_undetected"] / g.members)
        assert g.name == kb18.technique(g.technique).name  # type: ignore[union-attr]
    weighted = weighted_shares(rows)
    used = [r for r in rows if r.weight > 0]
    expected = sum(r.weight * r.counts["vis_blind"] for r in used) / sum(r.weight * r.members for r in used)
    assert weighted["blind"] == pytest.approx(expected) and 0 < expected < 1


def test_fewer_than_k_institutions_are_suppressed(tmp_path: Path, kb18: AttackKB) -> None:
    write_sector_shares(tmp_path, TECHNIQUES, {}, 3, seed=1)
    sector = merge_folder(tmp_path, kb18, k=5)
    rows = sector.techniques + sector.classes
    assert rows and all(r["suppressed"] and r["det_none"] is None and r["blind_or_undetected"] is None for r in rows)
    assert top_gaps(technique_rows(sector, kb18)) == []


def _share(folder: Path, cells: list[MemberCell], version: str = "18.1", submission: str | None = None) -> Path:
    cov = MemberCoverage(version, [Group("g", "servers", 4, 50)], cells, {}, {"detection": 40.0})
    table, manifest = build_share(cov, submission=submission)
    return write_share(folder, table, manifest)[1]


def test_bad_inputs_are_reported_together_with_their_files(tmp_path: Path) -> None:
    cell = [MemberCell("T1059.001", "g", 2, 2, 1)]
    newer = _share(tmp_path, cell)
    data = orjson.loads(newer.read_bytes())
    newer.write_bytes(orjson.dumps({**data, "schema_version": 99}))
    orphan = _share(tmp_path, cell)
    orphan.with_suffix(".parquet").unlink()
    _share(tmp_path / "a", cell, submission="same")
    _share(tmp_path / "b", cell, submission="same")
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "unrelated.json").write_text('{"some": "other file"}', encoding="utf-8")
    with pytest.raises(DetcovError) as err:
        discover(tmp_path)
    text = [str(i) for i in err.value.issues]
    assert len(text) == 4
    assert any(str(newer) in t and "schema version 99" in t and "upgrade detcov" in t for t in text)
    assert any(str(orphan) in t and "missing" in t for t in text)
    assert any("submission same is also in" in t for t in text)
    assert any("broken.json" in t and "JSON" in t for t in text)


def test_no_share_at_all_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DetcovError, match="no detcov share"):
        discover(tmp_path)


def test_ids_of_a_newer_release_without_equivalent_are_reported_not_silently_dropped(
        tmp_path: Path, kb17: AttackKB) -> None:
    for i in range(3):
        _share(tmp_path, [MemberCell("T1059.001", "g", 2, 2, 1), MemberCell("T1677", "g", 0, -1, 0)])
        _share(tmp_path, [MemberCell("T1059.001", "g", 3, 3, 1)], version="17.1", submission=f"old{i}")
    sector = merge_folder(tmp_path, kb17, k=2)
    assert sector.versions == {"17.1": 3, "18.1": 3}
    assert [(r["technique"], r["members"]) for r in sector.techniques] == [("T1059.001", 6)]
    (warning,) = [i for i in sector.issues if i.severity is Severity.WARNING]
    assert "T1677 (ATT&CK 18.1)" in str(warning) and "left out" in str(warning)


def test_two_ids_of_one_member_mapping_to_one_are_counted_once_at_the_worst(tmp_path: Path, kb18: AttackKB) -> None:
    # T1073 is revoked in 18.1 and counts as T1574.001: one member holding both is one institution, its worst score
    for _ in range(2):
        _share(tmp_path, [MemberCell("T1073", "g", 0, -1, 0), MemberCell("T1574.001", "g", 4, 4, 3)])
    sector = merge_folder(tmp_path, kb18, k=2)
    (row,) = sector.techniques
    assert (row["technique"], row["members"], row["vis_blind"], row["det_none"]) == ("T1574.001", 2, 2, 2)


def test_synthetic_members_vary_and_are_reproducible() -> None:
    a = member(random.Random(5), TECHNIQUES, {}, "18.1")
    b = member(random.Random(5), TECHNIQUES, {}, "18.1")
    assert a == b and 4 <= len(a.groups) <= 8 and a.cells


def test_cli_bad_share_folder_is_exit_2_with_the_file_named(tmp_path: Path, bundle18: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import run_cli

    bad = _share(tmp_path, [MemberCell("T1059.001", "g", 2, 2, 1)])
    bad.write_bytes(orjson.dumps({**orjson.loads(bad.read_bytes()), "schema_version": 0}))
    code, _, err = run_cli(capsys, "sector", "merge", str(tmp_path), "--out", str(tmp_path / "out"),
                           "--attack", str(bundle18))
    assert code == 2 and str(bad) in err and "re-export it" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
