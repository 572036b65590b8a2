"""The share format: bands on the KPI thresholds, scope classes and their generalisation, rows, files, no names."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detcov.sector.model import (
    ALL,
    COLUMNS,
    SCHEMA_VERSION,
    Group,
    MemberCell,
    MemberCoverage,
    blocking_band,
    detection_band,
    visibility_band,
)
from detcov.sector.position import percentile, sector_position
from detcov.sector.share import build_share, scope_classes, write_share


@given(st.integers(0, 4))
def test_visibility_band_good_exactly_at_the_kpi_threshold(score: int) -> None:
    assert (visibility_band(score) == 2) == (score >= 3)
    assert (visibility_band(score) == 0) == (score == 0)


@given(st.integers(-1, 5))
def test_detection_band_good_or_better_exactly_at_the_kpi_threshold(score: int) -> None:
    assert (detection_band(score) >= 2) == (score >= 2)
    assert (detection_band(score) == 0) == (score <= 0)


@given(st.integers(0, 3))
def test_blocking_band_some_exactly_at_the_kpi_threshold(score: int) -> None:
    assert (blocking_band(score) >= 1) == (score >= 1)


def test_scope_classes_generalise_small_classes_tier_first_then_other_then_suppress() -> None:
    groups = [Group("SWIFT zone", "payments", 5, 3), Group("Payments back office", "payments", 3, 40),
              Group("Lab", "other", 1, 2), Group("Cloud", "cloud", 4, None), Group("Oddity", "mainframe", 3, 50)]
    plan = scope_classes(groups, tiers=True, min_hosts=5)
    # payments/crown-jewel has 3 hosts: payments is shared without tiers (43 hosts)
    assert plan.of_group["SWIFT zone"] == plan.of_group["Payments back office"] == "payments"
    # an unknown kind is "other"; both are standard tier (criticality 1 and 3), 52 hosts together
    assert plan.of_group["Oddity"] == plan.of_group["Lab"] == "other/standard"
    assert plan.of_group["Cloud"] == "cloud/critical"  # no host count: nothing to check, kept
    assert (plan.suppressed, plan.generalised) == (0, 1)


def test_a_kind_too_small_is_folded_into_other() -> None:
    plan = scope_classes([Group("SWIFT", "payments", 5, 3), Group("Lab", "other", 1, 4)], min_hosts=5)
    assert plan.of_group == {"SWIFT": "other", "Lab": "other"} and plan.generalised == 1


def test_a_class_still_too_small_as_other_is_suppressed() -> None:
    plan = scope_classes([Group("Tiny", "payments", 5, 2), Group("Big", "workstations", 3, 900)], min_hosts=5)
    assert "Tiny" not in plan.of_group and plan.of_group["Big"] == "workstations"
    assert plan.suppressed == 1


def _coverage(cells: list[MemberCell], groups: list[Group] | None = None) -> MemberCoverage:
    groups = groups or [Group("Core banking", "core-banking", 5, 20), Group("Windows servers", "servers", 4, 400),
                        Group("DMZ web", "servers", 4, 12)]
    return MemberCoverage("18.1", groups, cells, {"T1059.001": 2.5}, {"visibility": 61.24, "detection": 30.5,
                                                                      "blocking": 12.0, "validated": 3.0})


def test_rows_hold_the_worst_band_of_a_class_and_distinct_rules_top_coded() -> None:
    rules = tuple(("splunk", f"Secret rule {i}") for i in range(5))
    cells = [MemberCell("T1059.001", "Windows servers", 4, 3, 2, "proven", (("sigma", "r1"), *rules)),
             MemberCell("T1059.001", "DMZ web", 1, 1, 0, "claimed", (("sigma", "r1"),)),
             MemberCell("T1059.001", "Core banking", 3, -1, 1, "none"),
             MemberCell("T1003", "Core banking", 0, -1, 0, observable=False),
             MemberCell("T1021", "Core banking", 2, 2, 1, applicable=False)]
    table, manifest = build_share(_coverage(cells), submission="abc", today=dt.date(2026, 9, 30))
    rows = {(r["technique"], r["scope_class"]): r for r in table.to_pylist()}
    assert set(rows) == {("T1059.001", "servers"), ("T1059.001", "core-banking"), ("T1059.001", ALL)}
    servers = rows[("T1059.001", "servers")]
    assert (servers["visibility"], servers["detection"], servers["blocking"]) == (1, 1, 0)  # DMZ web is worse
    assert servers["rules_sigma"] == 1  # the same rule in two groups counts once
    assert servers["rules_splunk"] == 3  # five rules, written as 3 = "3 or more"
    assert servers["evidence"] == 1  # proven in one group, claimed in the other: claimed
    everywhere = rows[("T1059.001", ALL)]
    assert (everywhere["visibility"], everywhere["detection"], everywhere["blocking"]) == (1, 0, 0)
    assert everywhere["threat_weight"] == pytest.approx(2.5)
    assert table.column_names == list(COLUMNS)
    assert manifest.kpis == {"visibility": 61.0, "detection": 30.0, "blocking": 12.0, "validated": 3.0}
    assert manifest.created == "2026-09-30" and manifest.schema_version == SCHEMA_VERSION
    assert manifest.scope_classes == ["core-banking", "servers"]


def test_written_share_holds_no_group_name_rule_id_or_path(tmp_path: Path) -> None:
    cells = [MemberCell("T1059.001", "Core banking", 2, 2, 1, "claimed", (("sentinel", "CoreBanking_CL hunt"),))]
    table, manifest = build_share(_coverage(cells))
    parquet, meta = write_share(tmp_path / "out", table, manifest)
    assert parquet.stem == meta.stem == f"share-{manifest.submission}"
    data = parquet.read_bytes() + meta.read_bytes()
    for secret in (b"Core banking", b"CoreBanking_CL", b"Windows servers", b"DMZ", str(tmp_path).encode()):
        assert secret not in data
    assert pq.read_table(parquet).num_rows == manifest.rows == 2
    assert orjson.loads(meta.read_bytes())["anonymisation"]["noise"] == "none"


def test_submission_ids_are_random() -> None:
    cov = _coverage([MemberCell("T1059.001", "Core banking", 2, 2, 1)])
    assert build_share(cov)[1].submission != build_share(cov)[1].submission


def test_percentile_is_mid_rank_in_whole_percent() -> None:
    values = [10.0, 20.0, 20.0, 30.0, 40.0]
    assert percentile(20.4, values) == 40.0  # 1 below + half of 2 level, of 5
    assert percentile(5, values) == 0.0 and percentile(99, values) == 100.0
    (pos,) = sector_position({"detection": 30.0}, {"detection": values, "visibility": values})
    assert (pos.kpi, pos.percentile, pos.median, pos.members) == ("detection", 70.0, 20.0, 5)


def test_report_block_labels_from_the_catalogue_and_percentiles_from_the_sector() -> None:
    from detcov.outputs.report import catalogue
    from detcov.outputs.report.sector import sector_table

    sector = {"detection": [10.0, 20.0, 30.0, 40.0], "visibility": [25.0]}
    table = sector_table({"visibility": 25.0, "detection": 25.0, "blocking": 9.0}, sector, catalogue("zh-TW"))
    assert table.columns[-1] == catalogue("zh-TW")("sector.percentile")
    assert table.rows == ((catalogue("zh-TW")("kpi.visibility"), 25.0, 25.0, 50.0),
                          (catalogue("zh-TW")("kpi.detection"), 25.0, 25.0, 50.0))
    assert "4" in table.title
