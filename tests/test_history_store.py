"""History store: record four quarters of the improving demo bank, list / load / trends / diff, ATT&CK version
changes, --replace, bad input, and transactional writes (a writer killed mid-write leaves the old state)."""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_history_bank import QUARTERS, technique_row, write_scan

from detcov.attack import AttackKB
from detcov.coverage.summary import Summary
from detcov.errors import DetcovError
from detcov.outputs.history import History, open_history, parse_quarter, read_scan, record_scan
from detcov.outputs.history.diff import diff_snapshots
from detcov.outputs.history.quarters import shift, year_ago


@pytest.fixture(scope="module")
def bank(kb18: AttackKB, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    root = tmp_path_factory.mktemp("bank")
    scans = {}
    for step, quarter in enumerate(QUARTERS):
        scans[quarter] = root / quarter
        write_scan(scans[quarter], kb18, step)
        record_scan(root / "history.sqlite", quarter, scans[quarter])
    return root / "history.sqlite", scans


def csv_rows(scan: Path, table: str) -> list[dict[str, str]]:
    with (scan / "tables" / f"{table}.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_quarter_labels() -> None:
    assert parse_quarter(" 2026q3 ") == "2026Q3" == parse_quarter("2026-Q3")
    assert shift("2026Q1", -1) == "2025Q4" and year_ago("2026Q3") == "2025Q3" and shift("2025Q4", 1) == "2026Q1"
    for bad in ("2026Q5", "26Q1", "Q3 2026", ""):
        with pytest.raises(DetcovError, match="YYYYQn"):
            parse_quarter(bad)


def test_record_and_load_round_trip(bank: tuple[Path, dict[str, Path]]) -> None:
    store, scans = bank
    history = open_history(store)
    assert history.quarters() == list(QUARTERS)
    snap = history.load("2026Q2")
    written = Summary.model_validate_json((scans["2026Q2"] / "summary.json").read_bytes())
    assert snap.summary == written
    rows = csv_rows(scans["2026Q2"], "techniques")
    assert [r.technique for r in snap.techniques] == [r["technique"] for r in rows]
    assert [r.detection for r in snap.techniques] == [int(r["detection"]) for r in rows]
    assert [r.in_scope for r in snap.techniques] == [r["in_scope"] == "True" for r in rows]
    assert [r.title for r in snap.rules] == [r["title"] for r in csv_rows(scans["2026Q2"], "rules")]
    assert [d.device for d in snap.devices] == [r["device"] for r in csv_rows(scans["2026Q2"], "devices")]
    assert len(snap.extra["recommendations"]) == len(written.top_gaps)
    fresh = read_scan(scans["2026Q2"], "2026Q2")
    assert (fresh.techniques, fresh.rules, fresh.devices) == (snap.techniques, snap.rules, snap.devices)


def test_kpis_are_queryable_with_plain_sql(bank: tuple[Path, dict[str, Path]]) -> None:
    store, scans = bank
    with sqlite3.connect(store) as conn:
        rows = conn.execute("SELECT quarter, weighted_percent FROM kpis WHERE kpi = 'detection'").fetchall()
    expected = {q: Summary.model_validate_json((s / "summary.json").read_bytes()).kpis.detection.weighted_percent
                for q, s in scans.items()}
    assert dict(rows) == expected


def test_trends_rise_and_comparison_quarters(bank: tuple[Path, dict[str, Path]]) -> None:
    history = open_history(bank[0])
    series = [s.kpis.detection.weighted_percent for s in history.summaries().values()]
    assert series == sorted(series) and series[0] < series[-1]
    assert history.previous("2026Q3") == "2026Q2" and history.previous("2025Q4") is None
    assert history.previous("2027Q1") == "2026Q3"  # latest recorded before, not necessarily adjacent
    assert history.year_ago("2026Q3") is None and history.year_ago("2026Q4") == "2025Q4"
    assert history.until("2026Q1") == ["2025Q4", "2026Q1"]


def test_diff_over_the_year(bank: tuple[Path, dict[str, Path]]) -> None:
    store, scans = bank
    diff = open_history(store).diff("2025Q4", "2026Q3")
    old, new = csv_rows(scans["2025Q4"], "techniques"), csv_rows(scans["2026Q3"], "techniques")
    expected = {r["technique"] for r in new if int(r["detection"]) >= 1} - {
        r["technique"] for r in old if int(r["detection"]) >= 1}
    assert set(diff.view("detection").gained) == expected and expected
    assert all(not v.lost for v in diff.views)  # the bank only improves
    assert diff.kpi_change["detection"] > 0 and not diff.versions_differ and diff.renamed == ()
    assert [d.device for d in diff.devices_added] == [r["device"] for r in csv_rows(scans["2026Q3"], "devices")][3:]
    assert not diff.devices_removed and not diff.rules_removed
    assert [r.rule_id for r in diff.rules_added] == [f"R{i:03d}" for i in range(8, 20)]
    assert [r.rule_id for r in diff.rules_fixed] == ["R001"]
    assert [(r.rule_id, r.missing) for r in diff.rules_broken] == [("R019", "zeek:dns")]


def test_diff_across_attack_versions(kb18: AttackKB, tmp_path: Path) -> None:
    def visible_in_scope(tid: str | None) -> bool:
        tech = kb18.technique(tid) if tid else None
        row = technique_row(tech.id, tech.name, tech.tactics, 1) if tech else {}
        return bool(row.get("in_scope")) and row["visibility"] >= 1

    revoked = next(t for t in kb18.techniques(active_only=False)
                   if t.revoked and visible_in_scope(kb18.resolve(t.id).current))
    current = kb18.resolve(revoked.id).current
    assert current is not None
    write_scan(tmp_path / "old", kb18, 1, version="17.1", rename={current: revoked.id})
    write_scan(tmp_path / "new", kb18, 1)
    store = tmp_path / "h.sqlite"
    record_scan(store, "2026Q1", tmp_path / "old")
    record_scan(store, "2026Q2", tmp_path / "new")
    history = open_history(store)
    mapped = history.diff("2026Q1", "2026Q2", kb=kb18)
    assert mapped.versions_differ and mapped.normalised_with == kb18.version
    assert mapped.renamed == ((revoked.id, current),)
    assert all(not v.gained and not v.lost for v in mapped.views)  # same coverage, only the id was revoked
    as_is = diff_snapshots(history.load("2026Q1"), history.load("2026Q2"), None)
    assert as_is.normalised_with is None and as_is.versions_differ
    assert current in as_is.view("visibility").gained and revoked.id in as_is.view("visibility").lost
    assert as_is.scope_added == (current,) and as_is.scope_removed == (revoked.id,)


def test_rerecording_needs_replace(kb18: AttackKB, tmp_path: Path) -> None:
    store = tmp_path / "h.sqlite"
    first = write_scan(tmp_path / "a", kb18, 0)
    better = write_scan(tmp_path / "b", kb18, 3)
    record_scan(store, "2026Q1", tmp_path / "a")
    with pytest.raises(DetcovError, match="--replace"):
        record_scan(store, "2026q1", tmp_path / "b")
    assert open_history(store).load("2026Q1").summary == first
    record_scan(store, "2026Q1", tmp_path / "b", replace=True)
    snap = open_history(store).load("2026Q1")
    assert snap.summary == better and len(snap.rules) == better.scope.rules


def test_bad_inputs_are_clear_errors(kb18: AttackKB, tmp_path: Path) -> None:
    with pytest.raises(DetcovError, match="no history store"):
        open_history(tmp_path / "none.sqlite")
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(DetcovError, match="not a readable detcov history store"):
        open_history(tmp_path / "junk.sqlite")
    with pytest.raises(DetcovError, match=r"no summary\.json"):
        record_scan(tmp_path / "h.sqlite", "2026Q1", tmp_path)
    write_scan(tmp_path / "scan", kb18, 0)
    table = tmp_path / "scan" / "tables" / "techniques.csv"
    table.write_text(table.read_text(encoding="utf-8").replace("detection,", "detektion,", 1), encoding="utf-8")
    with pytest.raises(DetcovError, match=r"techniques.csv:1: columns missing: detection"):
        record_scan(tmp_path / "h.sqlite", "2026Q1", tmp_path / "scan")
    with pytest.raises(DetcovError, match="2027Q1 is not recorded"):
        write_scan(tmp_path / "ok", kb18, 0)
        record_scan(tmp_path / "h.sqlite", "2026Q1", tmp_path / "ok")
        open_history(tmp_path / "h.sqlite").load("2027Q1")


# ----- transactional writes: kill a writer mid-write -------------------------------------------------------
_CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from detcov.outputs.history import store

    real = store._insert_rows
    def stalled(conn, name, quarter, rows):
        real(conn, name, quarter, rows)
        if name == "techniques":  # half the quarter is written, inside the transaction
            Path(sys.argv[3]).write_text("mid-write")
            time.sleep(120)
    store._insert_rows = stalled
    store.record_scan(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[4]), replace=True)
""")


def _kill_mid_write(store: Path, quarter: str, scan: Path, tmp_path: Path) -> None:
    marker = tmp_path / f"marker-{quarter}"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(store), quarter, str(marker), str(scan)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the writer ended before reaching the middle of its write"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        child.kill()
        child.wait()
    assert child.returncode != 0


@pytest.mark.parametrize("quarter", ["2026Q1", "2026Q3"])  # replacing an existing quarter / adding a new one
def test_killed_writer_leaves_previous_state(kb18: AttackKB, tmp_path: Path, quarter: str) -> None:
    store = tmp_path / "h.sqlite"
    before = {q: write_scan(tmp_path / q, kb18, i) for i, q in enumerate(("2025Q4", "2026Q1"))}
    for q in before:
        record_scan(store, q, tmp_path / q)
    write_scan(tmp_path / "new", kb18, 3)
    _kill_mid_write(store, quarter, tmp_path / "new", tmp_path)
    history = History(store)
    assert history.quarters() == list(before)
    for q, summary in before.items():
        snap = history.load(q)
        assert snap.summary == summary and len(snap.rules) == summary.scope.rules
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT COUNT(*) FROM techniques WHERE quarter = ?", (quarter,)).fetchone()[0] == (
            len(history.load(quarter).techniques) if quarter in before else 0)
    record_scan(store, quarter, tmp_path / "new", replace=True)  # and the store still takes writes
    assert open_history(store).load(quarter).summary.scope.devices == 6


def test_device_reaches_is_stored_and_schema_1_stores_still_load(kb18: AttackKB, tmp_path: Path) -> None:
    """A device's `reaches` (the SIEMs its logs really reach) is history: the board's "started / stopped sending"
    follows it, so a feed that went silent shows although the device is still declared as sending."""
    from detcov.outputs.report.board import quarter_change

    store = tmp_path / "h.sqlite"
    write_scan(tmp_path / "a", kb18, 1)
    record_scan(store, "2026Q1", tmp_path / "a")
    with sqlite3.connect(store) as conn:  # the store as detcov's schema 1 wrote it: no reaches column
        conn.execute("ALTER TABLE devices DROP COLUMN reaches")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        conn.execute("PRAGMA user_version = 1")
    old = open_history(store).load("2026Q1")
    assert old.devices and all(d.reaches is None and d.sending == d.siem for d in old.devices)

    write_scan(tmp_path / "b", kb18, 1)
    devices = csv_rows(tmp_path / "b", "devices")
    silent = devices[0]["device"]
    with (tmp_path / "b" / "tables" / "devices.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, [*devices[0], "reaches"])
        writer.writeheader()
        writer.writerows({**d, "reaches": "" if d["device"] == silent else "splunk;sentinel"} for d in devices)
    record_scan(store, "2026Q2", tmp_path / "b")  # migrates the store to schema 2

    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
        assert conn.execute("PRAGMA user_version").fetchone() == (2,)
    history = open_history(store)
    assert history.load("2026Q1").devices == old.devices  # old rows: still "not recorded"
    new = history.load("2026Q2")
    assert [(d.device, d.reaches) for d in new.devices] == [
        (d["device"], () if d["device"] == silent else ("splunk", "sentinel")) for d in devices]
    assert new.devices == read_scan(tmp_path / "b", "2026Q2").devices
    change = quarter_change(new, old, ())
    assert change.stopped_sending == (silent,) and change.started_sending == ()
    assert change.sending == len(devices) - 1
