"""The workbook written in a spawned second process: the same file as in-process, errors as themselves, the
previous outputs kept on failure, no orphan processes, and only for big scans with a CPU to spare."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from background_jobs import MissingModule, die, disk_full, odd_error, os_error, pid_then_sleep

from detcov.coverage.engine import ScanResult, run_scan
from detcov.errors import DetcovError, Issue, Location
from detcov.outputs import scan_outputs
from detcov.outputs.background import RemoteTraceback, output_worker
from detcov.outputs.scan_outputs import background_workbook, write_scan_outputs
from detcov.workers import process_budget

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo-bank"
HEAVY = ("detcov.coverage", "detcov.rules", "detcov.attack", "stix2", "networkx", "plotly", "yaml", "jinja2")


@pytest.fixture(scope="module")
def demo(bundle18: Path) -> ScanResult:
    return run_scan(DEMO / "detcov.yaml", attack_path=bundle18)


def swatch_rows(ws: Any) -> int:
    """Rows whose fills are compared: all of the small sheets (the Legend's swatches), the header elsewhere."""
    return int(ws.max_row) if ws.max_row <= 100 else 1


def cells(path: Path) -> dict[str, Any]:
    """Every value of every sheet, and what formats them: column widths, frozen panes, filters, colour scales."""
    book = openpyxl.load_workbook(path)
    return {ws.title: {"values": [[c.value for c in row] for row in ws.iter_rows()],
                       "widths": {k: d.width for k, d in ws.column_dimensions.items()},
                       "freeze": ws.freeze_panes, "filter": ws.auto_filter.ref,
                       "scales": sorted(str(r.sqref) for r in ws.conditional_formatting),
                       "fills": [[c.fill.fgColor.rgb for c in row] for row in ws.iter_rows(max_row=swatch_rows(ws))]}
            for ws in book.worksheets}


def test_background_workbook_equals_the_in_process_one_cell_by_cell(demo: ScanResult, tmp_path: Path) -> None:
    inline = tmp_path / "inline"
    spawned = tmp_path / "spawned"
    write_scan_outputs(demo, inline, background=False)
    write_scan_outputs(demo, spawned, background=True)
    mine, theirs = cells(inline / "coverage.xlsx"), cells(spawned / "coverage.xlsx")
    assert list(mine) == list(theirs) and len(mine) >= 8
    assert mine["rules"]["values"][1:] and mine["techniques"]["scales"]
    for sheet in mine:
        assert mine[sheet] == theirs[sheet], sheet
    files = sorted(p.relative_to(inline) for p in inline.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(spawned) for p in spawned.rglob("*") if p.is_file())
    assert json.loads((inline / "summary.json").read_bytes()) == json.loads((spawned / "summary.json").read_bytes())
    assert not list(spawned.glob(".detcov-staging-*"))


def test_detcov_scan_writes_the_same_workbook_with_its_rules_sheet_begun_before_scoring(
        demo: ScanResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bundle18: Path) -> None:
    """The CLI's path: the rules sheet is sent to the worker before scoring, the other sheets after."""
    from detcov.cli.main import main

    write_scan_outputs(demo, tmp_path / "inline", background=False)
    monkeypatch.setattr(scan_outputs, "BACKGROUND_MIN_RULES", 0)
    monkeypatch.setattr(scan_outputs, "process_budget", lambda: 2)
    main(["scan", str(DEMO / "detcov.yaml"), "--attack", str(bundle18), "--out", str(tmp_path / "cli")])
    assert cells(tmp_path / "cli" / "coverage.xlsx") == cells(tmp_path / "inline" / "coverage.xlsx")


@pytest.mark.parametrize("background", [False, True])
def test_a_cut_rules_sheet_still_leaves_every_rule_in_the_tables(demo: ScanResult, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 background: bool) -> None:
    """A big scan's rules sheet keeps the rules that need work; every rule's row is made before scoring and sent to
    the worker for ``tables/rules.{csv,parquet}``, in parts: the same files as a small scan writes whole."""
    import pandas as pd

    from detcov.outputs import workbook

    whole = tmp_path / "whole"
    write_scan_outputs(demo, whole, background=False)
    monkeypatch.setattr(workbook, "WORKBOOK_ALL_RULES", len(demo.healths) - 1)
    monkeypatch.setattr(workbook, "RULES_PART_ROWS", 7)
    cut = tmp_path / "cut"
    write_scan_outputs(demo, cut, background=background)
    rows = cells(cut / "coverage.xlsx")["rules"]["values"]
    everything = cells(whole / "coverage.xlsx")["rules"]["values"]
    health = everything[0].index("health")
    work = [everything[0], *(r for r in everything[1:] if r[health] not in ("healthy", "not-applicable"))]
    assert rows == work and 1 < len(work) - 1 < len(demo.healths)  # the sheet is cut to the rules that need work …
    assert (cut / "tables" / "rules.csv").read_bytes() == (whole / "tables" / "rules.csv").read_bytes()  # … not them
    pd.testing.assert_frame_equal(pd.read_parquet(cut / "tables" / "rules.parquet"),
                                  pd.read_parquet(whole / "tables" / "rules.parquet"))
    assert sorted(p.name for p in (cut / "tables").iterdir()) == sorted(p.name for p in (whole / "tables").iterdir())


@pytest.mark.parametrize("background", [False, True])
def test_a_rules_table_error_keeps_the_previous_outputs(demo: ScanResult, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, background: bool) -> None:
    from detcov.outputs import workbook

    out = tmp_path / "out"
    write_scan_outputs(demo, out, background=False)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    monkeypatch.setattr(workbook, "WORKBOOK_ALL_RULES", len(demo.healths) - 1)
    monkeypatch.setattr(scan_outputs, "add_rows", disk_full)
    with pytest.raises(DetcovError, match="the disk is full"):
        write_scan_outputs(demo, out, background=background)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not list(tmp_path.rglob(".detcov-staging-*")) and not list(tmp_path.rglob("*.tmp*"))


def test_a_workbook_error_in_the_worker_keeps_the_previous_outputs(demo: ScanResult, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write_scan_outputs(demo, out, background=False)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    monkeypatch.setattr(scan_outputs, "add_sheet", disk_full)
    with pytest.raises(DetcovError) as caught:
        write_scan_outputs(demo, out, background=True)
    assert caught.value.issues[0].message.startswith("the disk is full")
    location = caught.value.issues[0].location
    assert location is not None and Path(location.path).name == "coverage.xlsx"
    assert isinstance(caught.value.__cause__, RemoteTraceback) and "disk_full" in str(caught.value.__cause__)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not list(out.glob(".detcov-staging-*"))


def test_the_cli_reports_a_worker_error_as_one_line_exit_2(demo: ScanResult, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str],
                                                            bundle18: Path) -> None:
    from detcov.cli.main import main

    monkeypatch.setattr(scan_outputs, "add_sheet", disk_full)
    monkeypatch.setattr(scan_outputs, "BACKGROUND_MIN_RULES", 0)
    monkeypatch.setattr(scan_outputs, "process_budget", lambda: 2)
    with pytest.raises(SystemExit) as exit_:
        main(["scan", str(DEMO / "detcov.yaml"), "--attack", str(bundle18), "--out", str(tmp_path / "out")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "the disk is full" in " ".join(err.split()) and "Traceback" not in err
    assert not (tmp_path / "out" / "coverage.xlsx").exists()


def test_errors_come_back_as_themselves(tmp_path: Path) -> None:
    with output_worker(True) as worker:
        with pytest.raises(OSError) as caught:
            worker.submit(os_error).result()
        assert (caught.value.errno, caught.value.strerror, caught.value.filename) == \
            (errno.ENOSPC, "No space left on device", "coverage.xlsx")
        with pytest.raises(RuntimeError, match=r"^Unpicklable: 1/2$"):
            worker.submit(odd_error).result()
        with pytest.raises(DetcovError) as issue:
            worker.submit(disk_full, tmp_path / "x.xlsx").result()
        assert issue.value.issues == (Issue("the disk is full: cannot write this file (the previous version is "
                                            "kept)", Location(str(tmp_path / "x.xlsx")),
                                            "free some space (or choose another --out) and rerun"),)
        assert worker.submit(pid_then_sleep, 0).result() != os.getpid()  # still serving after errors


def test_a_worker_that_dies_is_a_clear_error() -> None:
    with output_worker(True) as worker, pytest.raises(DetcovError, match=r"stopped unexpectedly.*exit code -9"):
        worker.submit(die).result()


def test_a_job_it_cannot_unpickle_fails_as_itself() -> None:
    with output_worker(True) as worker:
        with pytest.raises(ModuleNotFoundError, match="detcov_no_such_module"):
            worker.submit(print, MissingModule()).result()
        assert worker.submit(pid_then_sleep, 0).result() != os.getpid()


def test_leaving_the_block_stops_a_busy_worker(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), output_worker(True) as worker:
        worker.submit(pid_then_sleep, 60)
        process = worker._process
        raise KeyboardInterrupt
    assert process is not None and process.returncode == -signal.SIGTERM


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["parent-killed", "ctrl-c"])
def test_a_busy_worker_never_outlives_its_parent(tmp_path: Path, how: signal.Signals) -> None:
    """The parent killed with SIGKILL (no ``finally`` runs: the worker sees its job pipe close) or interrupted with
    Ctrl-C (SIGINT: the parent stops the worker) while the worker is busy: the worker is gone soon after."""
    pid_file = tmp_path / "worker.pid"
    script = (f"import sys, time; sys.path[:0] = {sys.path!r}\n"
              "from detcov.outputs.background import output_worker\n"
              "from background_jobs import pid_then_sleep\n"
              "with output_worker(True) as w:\n"
              "    w.submit(pid_then_sleep, 120)\n"
              f"    open({str(pid_file)!r}, 'w').write(str(w.pid))\n"
              "    time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.DEVNULL)
    try:
        worker = int(_wait_for(lambda: pid_file.exists() and pid_file.read_text()))
        time.sleep(0.3)  # the job is running
        parent.send_signal(how)
        parent.wait(30)
        assert _wait_for(lambda: not _alive(worker))
    finally:
        parent.kill()
        parent.wait()


def _wait_for(condition: Any, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # reparented to init and exited, not reaped yet


def test_the_worker_imports_the_writer_only() -> None:
    with output_worker(True, preload=("detcov.outputs.excel",)) as worker:
        loaded = worker.submit(eval, "sorted(__import__('sys').modules)").result()
    assert "detcov.outputs.excel" in loaded and "xlsxwriter" in loaded
    assert [m for m in loaded if m.startswith(HEAVY)] == []


def test_no_worker_can_start_so_it_runs_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_process(*_: Any, **__: Any) -> None:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    with output_worker(True) as worker:
        assert not worker.spawned and worker.submit(os.getpid).result() == os.getpid()


def test_inline_runs_at_once_in_this_process() -> None:
    with output_worker(False) as worker:
        pending = worker.submit(os.getpid)
        assert not worker.spawned and pending.result() == os.getpid()
        with pytest.raises(OSError):
            worker.submit(os_error)  # raised where it is submitted, as before


def test_only_big_scans_with_a_cpu_to_spare_use_a_second_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DETCOV_WORKERS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    big = scan_outputs.BACKGROUND_MIN_RULES
    assert background_workbook(big) and not background_workbook(big - 1) and not background_workbook(64)
    monkeypatch.setenv("DETCOV_WORKERS", "1")
    assert not background_workbook(big) and process_budget() == 1
    monkeypatch.setenv("DETCOV_WORKERS", "0")  # not a count: one per CPU
    assert process_budget() == 2
    monkeypatch.delenv("DETCOV_WORKERS")
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert not background_workbook(10 * big)
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert process_budget() == 1 and process_budget(3) == 3
