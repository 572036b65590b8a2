"""Simulation results from real tools (ART CSV, ATTiRe, Caldera, VECTR, detcov's CSV) → one TestResult model.

Samples in tests/data/simulations/ are built in each tool's exact shape (its README names the upstream file)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from detcov.attack import AttackKB
from detcov.coverage.validation import load_validation
from detcov.errors import DetcovError, Severity
from detcov.simulations import FORMATS, NO_OUTCOME, TestResult, read_results

DATA = Path(__file__).parent / "data" / "simulations"
DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo-bank"


def _read(kb: AttackKB, name: str, fmt: str = "auto") -> tuple[list[TestResult], list[str]]:
    results, issues = read_results(DATA / name, kb, fmt)
    assert all(i.severity is Severity.WARNING for i in issues)
    return results, [str(i) for i in issues]


@pytest.mark.parametrize(("name", "tool"), [
    ("art-default-log.csv", "atomic-red-team"), ("art-log-with-outcomes.csv", "atomic-red-team"),
    ("attire-log.json", "attire"), ("caldera-report.json", "caldera"), ("caldera-event-logs.json", "caldera"),
    ("vectr-export.csv", "vectr"), ("hand.csv", "csv")])
def test_auto_detects_each_tool_and_explicit_format_agrees(kb_any: AttackKB, name: str, tool: str) -> None:
    auto, _ = _read(kb_any, name)
    explicit, _ = _read(kb_any, name, tool)
    assert auto == explicit and auto
    assert {r.tool for r in auto} == {tool}
    assert all(kb_any.technique(r.technique) for r in auto)  # current ids of the loaded ATT&CK


def test_art_execution_log_keeps_rows_without_outcome_and_flags_them(kb18: AttackKB) -> None:
    results, warnings = _read(kb18, "art-default-log.csv")
    assert [(r.technique, r.test, r.date, r.host) for r in results] == [
        ("T1059.001", "T1059.001-17 PowerShell EncodedCommand parameter variations", "2025-11-12T01:14:09Z",
         "ws-0142"),
        ("T1003.001", "T1003.001-2 Dump LSASS.exe Memory using comsvcs.dll", "2025-11-12T01:20:44Z", "srv-file-02"),
        ("T1053.005", "T1053.005-1 Scheduled Task Startup Script", "2025-11-13T02:05:51Z", "ws-0142")]
    assert all(r.detected is None and r.blocked is None and NO_OUTCOME in r.note for r in results)
    assert results[1].location.endswith("art-default-log.csv:3") and "exit code -1073741502" in results[1].note
    assert any("3 result(s) record no detection/blocking outcome" in w for w in warnings)
    assert not any("not read by detcov" in w for w in warnings)  # every upstream column is known


def test_art_log_with_purple_team_columns(kb18: AttackKB) -> None:
    results, warnings = _read(kb18, "art-log-with-outcomes.csv")
    assert [(r.detected, r.blocked, r.alert_id) for r in results] == [
        (True, False, "SPL-4411"), (True, True, "MDE-da6381"), (False, False, None), (None, None, None)]
    unknown = [w for w in warnings if "not read by detcov" in w]
    assert len(unknown) == 1 and "Reviewer" in unknown[0] and ":1:1:" in unknown[0]
    assert any("1 result(s) record no" in w for w in warnings)


def test_attire_log(kb18: AttackKB) -> None:
    results, warnings = _read(kb18, "attire-log.json")
    first, second = results
    assert (first.technique, first.test, first.date, first.host) == (
        "T1486", "T1486-5 Data Encrypted with GPG4Win", "2025-11-14T03:01:40Z", "srv-file-02")
    assert first.detected is None and NO_OUTCOME in first.note
    assert (second.detected, second.blocked, second.alert_id) == (True, False, "SPL-4470")
    assert second.location.endswith("attire-log.json:$.procedures[1]")
    unknown = [w for w in warnings if "not read by detcov" in w]
    assert len(unknown) == 1 and "reviewed-by" in unknown[0]


def test_caldera_report_places_links_on_agent_hosts_and_skips_links_that_never_ran(kb18: AttackKB) -> None:
    results, warnings = _read(kb18, "caldera-report.json")
    assert [(r.technique, r.host, r.detected) for r in results] == [
        ("T1005", "lnx-app-03", None), ("T1087.001", "lnx-app-03", True), ("T1049", "cbs-db-01", None)]
    assert results[1].alert_id == "ELK-77120" and "status 1" in results[1].note
    assert results[2].location.endswith(":$.steps.qwmzlb.steps[0]")
    assert any("1 Caldera link(s) never ran" in w for w in warnings)  # the discarded crontab link
    assert any("not read by detcov" in w and ".ticket" in w for w in warnings)


def test_caldera_event_logs(kb18: AttackKB) -> None:
    results, warnings = _read(kb18, "caldera-event-logs.json")
    assert [(r.technique, r.host, r.date, r.detected, r.blocked) for r in results] == [
        ("T1049", "cbs-db-01", "2025-11-18T06:07:20Z", None, None),
        ("T1087.001", "lnx-app-03", "2025-11-18T06:06:40Z", False, False)]
    assert not any("not read by detcov" in w for w in warnings)


def test_vectr_export(kb18: AttackKB) -> None:
    results, warnings = _read(kb18, "vectr-export.csv")
    assert [(r.technique, r.detected, r.blocked, r.host) for r in results] == [
        ("T1021.001", True, False, "swift-jump-01"),
        ("T1078", False, False, "swift-aa-01"),      # NotDetected (activity logged: telemetry, no alert)
        ("T1105", False, True, "swift-aa-01"),       # Blocked, Alert Triggered = No; two targets → two results
        ("T1105", False, True, "swift-gw-01"),
        ("T1486", None, None, "swift-aa-01")]        # TBD: kept, proves nothing
    assert results[0].date == "2025-11-20T02:00:00Z" and "detected at 2025-11-20T02:06:00Z" in results[0].note
    assert "activity logged: Yes" in results[1].note and "target 2 of 2" in results[3].note
    assert NO_OUTCOME.split(" (")[0] in results[4].note
    unknown = [w for w in warnings if "not read by detcov" in w]
    assert len(unknown) == 1 and "Risk Score" in unknown[0]  # every real VECTR column is known
    assert any("1 VECTR test case(s) have no MitreID" in w for w in warnings)


def test_vectr_epoch_time_when_the_text_time_is_missing(kb18: AttackKB, tmp_path: Path) -> None:
    (tmp_path / "v.csv").write_text("Variant,MitreID,Outcome,Start Time,Start Time Epoch\n"
                                    "x,T1078,NotDetected,,1763665200000\n", encoding="utf-8")
    results, _ = read_results(tmp_path / "v.csv", kb18)
    assert results[0].date == "2025-11-20T19:00:00Z" and results[0].tool == "vectr"


def test_hand_csv_optional_columns_and_revoked_ids(kb18: AttackKB) -> None:
    results, _ = _read(kb18, "hand.csv")
    assert (results[0].host, results[0].alert_id, results[0].note) == ("ws-0142", "SPL-4411", "alert in 40 s")
    assert results[1].system_group == "Windows workstations" and results[1].host is None
    legacy = results[2]
    assert legacy.technique == "T1059.001" and "T1086" in legacy.note.upper()  # revoked → replacement, said
    assert legacy.date == "2025-11-14T00:30:00Z"  # +08:00 converted to UTC


def test_bad_input_collects_every_error_with_location_and_fix(kb18: AttackKB) -> None:
    with pytest.raises(DetcovError) as err:
        read_results(DATA / "bad-flags.csv", kb18)
    lines = [str(i) for i in err.value.issues]
    assert len(lines) == 2
    assert lines[0].startswith(f"{DATA / 'bad-flags.csv'}:3: detected is 'maybe'") and "use yes/no" in lines[0]
    assert ":4: date '12/11/2025' is not an ISO 8601" in lines[1] and "2025-11-12" in lines[1]


@pytest.mark.parametrize(("name", "fmt", "expected"), [
    ("bad-missing-column.csv", "auto", "csv CSV lacks column(s) blocked"),
    ("bad-truncated.json", "auto", "is not valid JSON"),
    ("bad-vectr-outcome.csv", "auto", "Outcome is 'Detectd'"),
    ("art-default-log.csv", "vectr", "vectr CSV lacks column(s) MitreID, Variant, Outcome, Start Time"),
    ("vectr-export.csv", "attire", "is not valid JSON"),
    ("hand.csv", "splunk", "unknown simulation result format 'splunk'")])
def test_bad_files_one_clear_error(kb18: AttackKB, name: str, fmt: str, expected: str) -> None:
    with pytest.raises(DetcovError) as err:
        read_results(DATA / name, kb18, fmt)
    assert expected in str(err.value)
    assert str(DATA / name) in str(err.value)


def test_unknown_json_and_csv_shapes_name_the_formats(kb18: AttackKB, tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"results": []}', encoding="utf-8")
    (tmp_path / "x.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    for name in ("x.json", "x.csv"):
        with pytest.raises(DetcovError, match=r"not a known simulation result format|matches no known") as err:
            read_results(tmp_path / name, kb18)
        assert "format" in (err.value.issues[0].hint or "")


@pytest.mark.parametrize("name", ["missing.csv", "missing.json"])
def test_missing_file_is_one_clear_error(kb18: AttackKB, tmp_path: Path, name: str) -> None:
    with pytest.raises(DetcovError, match="cannot read simulation results") as err:
        read_results(tmp_path / name, kb18)
    assert str(tmp_path / name) in str(err.value) and err.value.issues[0].hint


def test_utf16_powershell_log_reads(kb18: AttackKB, tmp_path: Path) -> None:
    text = (DATA / "art-default-log.csv").read_text(encoding="utf-8")
    (tmp_path / "log.csv").write_bytes(text.encode("utf-16"))  # Windows PowerShell 5 Out-File default
    results, _ = read_results(tmp_path / "log.csv", kb18)
    assert len(results) == 3


def test_unknown_technique_is_reported_not_silently_dropped(kb18: AttackKB, tmp_path: Path) -> None:
    shutil.copy(DATA / "hand.csv", tmp_path / "r.csv")
    with (tmp_path / "r.csv").open("a", encoding="utf-8") as fh:
        fh.write("T9999,no such technique,2025-11-15,yes,no,,,,\n")
    results, issues = read_results(tmp_path / "r.csv", kb18)
    assert len(results) == 3
    assert any(":5:" in str(i) and "T9999" in str(i) for i in issues)


def test_dates_sort_across_tools(kb18: AttackKB) -> None:
    dates = [r.date for name in ("hand.csv", "art-default-log.csv", "caldera-report.json")
             for r in _read(kb18, name)[0]]
    assert sorted(dates)[0] == "2025-11-12" and sorted(dates)[-1] == "2025-11-18T06:07:20Z"


def test_engine_wrapper_returns_errors_as_issues(kb18: AttackKB) -> None:
    results, issues = load_validation(DATA / "bad-flags.csv", kb18)
    assert results == [] and sum(i.severity is Severity.ERROR for i in issues) == 2


def test_formats_tuple() -> None:
    assert FORMATS == ("csv", "atomic-red-team", "attire", "caldera", "vectr")


def test_demo_simulations_read_cleanly_and_every_result_can_be_placed(kb18: AttackKB) -> None:
    files = sorted(p for p in (DEMO / "simulations").iterdir() if p.suffix in (".csv", ".json"))
    assert {read_results(p, kb18)[0][0].tool for p in files} == {"atomic-red-team", "attire", "caldera", "vectr"}
    hand, issues = read_results(DEMO / "validation.csv", kb18)
    assert not issues
    assert [r.technique for r in hand] == ["T1059.001", "T1003.001", "T1566.001", "T1053.005", "T1486", "T1021.001"]
    for path in [*files, DEMO / "validation.csv"]:
        for r in read_results(path, kb18)[0]:
            assert r.host or r.system_group, r.location


def test_scan_with_bad_results_exits_2_with_every_error(capsys: pytest.CaptureFixture[str], bundle18: Path,
                                                        tmp_path: Path) -> None:
    from tests.conftest import run_cli

    demo = tmp_path / "demo-bank"
    shutil.copytree(DEMO, demo)
    shutil.copy(DATA / "bad-flags.csv", demo / "validation.csv")
    code, _, err = run_cli(capsys, "scan", str(demo / "detcov.yaml"), "--attack", str(bundle18),
                           "--out", str(tmp_path / "out"))
    assert code == 2 and "Traceback" not in err
    assert f"{demo / 'validation.csv'}:3: detected is 'maybe'" in err
    assert f"{demo / 'validation.csv'}:4: date '12/11/2025'" in err
    assert not (tmp_path / "out").exists()
