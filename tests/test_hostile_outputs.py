"""No lost byte: atomic writes with normal modes, inputs never overwritten, full disks, foreign SQLite files, CSV
formula payloads. (Issue 15.)"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from detcov.csvsafe import csv_text, neutralise, restore
from detcov.errors import DetcovError
from detcov.fileio import atomic_path, atomic_write, default_mode, protect_inputs, staged_folder
from tests.conftest import REPO, run_cli

DEMO = REPO / "examples" / "demo-bank"


def _tree(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ----- atomic writes -------------------------------------------------------------------------------------
def test_new_files_follow_the_umask_and_existing_files_keep_their_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "a.json", b"{}")
        assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o640 == default_mode()
    finally:
        os.umask(old)
    os.umask(0o022)
    try:
        atomic_write(tmp_path / "b.json", b"{}")
        assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o644
        (tmp_path / "b.json").chmod(0o600)  # the user tightened it: a rewrite keeps that
        atomic_write(tmp_path / "b.json", b"[]")
        assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "coverage.xlsx"
    target.write_bytes(b"previous")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coverage.xlsx"]


@pytest.mark.parametrize("case", ["is-a-file", "under-a-file"])
def test_an_output_folder_that_is_a_file_is_one_clear_error(tmp_path: Path, case: str) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("not a folder")
    folder = blocker if case == "is-a-file" else blocker / "sub"
    with pytest.raises(DetcovError) as err:
        atomic_write(folder / "summary.json", b"{}")
    assert f"{blocker} is a file, not a folder" in str(err.value)
    assert blocker.read_text() == "not a folder"


def test_an_unwritable_folder_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # root ignores directory permissions, so the refusal the kernel would give is simulated at mkstemp
    def denied(*_a: object, **_k: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("detcov.fileio.tempfile.mkstemp", denied)
    with pytest.raises(DetcovError) as err:
        atomic_write(tmp_path / "x.json", b"{}")
    assert "permission denied" in str(err.value) and "choose a folder you can write to" in str(err.value)


def test_inputs_are_never_written_over(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "team.csv").write_text("keep me")
    with protect_inputs([rules]):
        for target in (rules / "team.csv", rules / "new.csv"):
            with pytest.raises(DetcovError, match="refusing to write here"):
                atomic_write(target, b"x")
        atomic_write(tmp_path / "elsewhere.csv", b"x")  # outside the inputs: fine
    assert (rules / "team.csv").read_text() == "keep me" and not (rules / "new.csv").exists()


def test_rules_check_refuses_a_csv_inside_the_rule_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         bundle18: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(DEMO / "rules" / "sigma", rules)
    before = _tree(rules)
    code, _, err = run_cli(capsys, "rules", "check", str(rules), "--csv", str(rules / "team.csv"),
                           "--attack", str(bundle18))
    assert code == 2 and "refusing to write here: it is inside the input folder" in err
    assert "Traceback" not in err and _tree(rules) == before


def test_a_staged_set_replaces_the_previous_one_only_when_complete(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with staged_folder(out) as stage:
        atomic_write(stage / "a.txt", b"1")
        atomic_write(stage / "sub" / "b.txt", b"1")
    before = _tree(out)
    with pytest.raises(DetcovError), staged_folder(out) as stage:
        atomic_write(stage / "a.txt", b"2")
        raise DetcovError("disk full")
    assert _tree(out) == before == {"a.txt": _sha(b"1"), "sub/b.txt": _sha(b"1")}
    with staged_folder(out) as stage:
        atomic_write(stage / "a.txt", b"3")
    assert (out / "a.txt").read_bytes() == b"3" and (out / "sub" / "b.txt").read_bytes() == b"1"
    assert not [p for p in out.iterdir() if p.name.startswith(".detcov-staging")]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----- a full disk ---------------------------------------------------------------------------------------
@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 40 MB tmpfs (room for a copy of one demo scan's ~13 MB of outputs; needs root and mount); skipped,
    saying why, where mounting is not allowed."""
    mount = tmp_path / "fs"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8); the ENOSPC simulation test still runs")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)], capture_output=True,
                          check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path, leave_bytes: int) -> None:
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with (folder / "filler.bin").open("wb") as fh:
        fh.write(b"\0" * max(0, free - leave_bytes))


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory, bundle18: Path) -> Path:
    """One demo scan's output folder, made once; tests copy it."""
    from detcov.cli.main import main

    out = tmp_path_factory.mktemp("scanned") / "out"
    with pytest.raises(SystemExit) as done:
        main(["scan", str(DEMO / "detcov.yaml"), "--out", str(out), "--attack", str(bundle18)])
        raise SystemExit(0)
    assert done.value.code in (0, None)
    return out


def _copy(scanned: Path, out: Path) -> Path:
    shutil.copytree(scanned, out)
    return out


def _scan(capsys: pytest.CaptureFixture[str], out: Path, bundle: Path) -> tuple[int, str]:
    code, _, err = run_cli(capsys, "scan", str(DEMO / "detcov.yaml"), "--out", str(out), "--attack", str(bundle))
    return code, err


def test_a_full_filesystem_leaves_the_previous_outputs_intact(small_fs: Path, capsys: pytest.CaptureFixture[str],
                                                             scanned: Path, bundle18: Path) -> None:
    out = _copy(scanned, small_fs / "out")
    before = _tree(out)
    _fill(small_fs, 1_500_000)  # the heatmaps page alone is ~6 MB
    code, err = _scan(capsys, out, bundle18)
    assert code == 2 and "the disk is full" in err and "internal error" not in err, err
    assert _tree(out) == before  # every previous output byte for byte, no temporary left behind


@pytest.mark.parametrize("after", [0, 12])
def test_enospc_on_any_write_leaves_the_previous_outputs_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str], scanned: Path,
                                                               bundle18: Path, after: int) -> None:
    """The same promise without a mount: the disk "fills up" at the (after+1)-th file made durable (ENOSPC is
    what fsync reports when delayed allocation finds no block), at the first table, in the layers, at the end."""
    out = _copy(scanned, tmp_path / "out")
    before = _tree(out)
    calls = {"n": 0}
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            calls["n"] += 1
            if calls["n"] > after:
                raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    code, err = _scan(capsys, out, bundle18)
    monkeypatch.undo()
    assert code == 2 and "the disk is full" in err and "internal error" not in err, err
    assert _tree(out) == before


# ----- CSV formula payloads ------------------------------------------------------------------------------
@pytest.mark.parametrize("payload", ["=HYPERLINK(\"http://x\",\"y\")", "=cmd|' /C calc'!A0", "+1+1", "-2+3",
                                     "@SUM(A1)", "\tx", "\rx", "'=already"])
def test_formula_payloads_are_neutralised_and_restored(payload: str) -> None:
    cell = neutralise(payload)
    assert cell.startswith("'") and restore(cell) == payload


@pytest.mark.parametrize("number", ["-1", "-0.5", "+3", "12", "-1e3"])
def test_numbers_stay_numbers(number: str) -> None:
    assert neutralise(number) == number


def test_csv_text_neutralises_every_cell() -> None:
    text = csv_text(["id", "title"], [["R1", "=HYPERLINK(\"http://evil\")"], ["R2", "ok"]])
    assert "'=HYPERLINK" in text and "\nR2,ok\n" in text


def test_table_csv_neutralises_text_columns_of_any_dtype(tmp_path: Path) -> None:
    """pandas 3 gives string columns the ``str`` dtype, not ``object``: the scan's tables (rules.csv …) must be
    neutralised all the same, and read back exactly by the history store."""
    import pandas as pd

    from detcov.csvsafe import frame_csv
    from detcov.outputs.history.snapshot import read_csv

    titles = ["=HYPERLINK(\"http://evil\",\"x\")", "'quoted", "@SUM(A1)", "plain"]
    frame = pd.DataFrame({"rule_id": ["R1", "R2", "R3", "R4"], "title": titles, "score": [-1, 2, 0, 5],
                          "tags": [["a"], "=b", None, "c"]})
    path = tmp_path / "rules.csv"
    path.write_bytes(frame_csv(frame, bom=True))
    raw = path.read_text(encoding="utf-8-sig").splitlines()
    assert raw[1].startswith("R1,\"'=HYPERLINK(") and raw[2].startswith("R2,''quoted,") and ",'@SUM(A1)," in raw[3]
    assert raw[1].split(",")[-2:] == ["-1", "['a']"]  # numbers stay numbers
    assert ",'=b" in raw[2]
    assert [r["title"] for r in read_csv(path)] == titles


# ----- the history store ---------------------------------------------------------------------------------
def test_history_refuses_another_applications_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    scanned: Path) -> None:
    out = _copy(scanned, tmp_path / "out")
    foreign = tmp_path / "crm.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    before = foreign.read_bytes()
    code, _, err = run_cli(capsys, "history", "record", "--scan-dir", str(out), "--quarter", "2026Q1",
                           "--store", str(foreign))
    assert code == 2 and "another application's SQLite database (tables: customers)" in err
    assert foreign.read_bytes() == before


def _recorded(capsys: pytest.CaptureFixture[str], scanned: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the scan folder, recorded as 2026Q1 in a new store."""
    out = _copy(scanned, tmp_path / "out")
    store = tmp_path / "h.sqlite"
    code, _, err = run_cli(capsys, "history", "record", "--scan-dir", str(out), "--quarter", "2026Q1",
                           "--store", str(store))
    assert code == 0, err
    return out, store


def test_history_marks_its_store_and_refuses_truncated_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             scanned: Path) -> None:
    out, store = _recorded(capsys, scanned, tmp_path)
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x64637631
    rules = out / "tables" / "rules.csv"
    lines = rules.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    rules.write_text("".join(lines[:3]), encoding="utf-8")  # 2 rule rows against a summary of 64
    code, _, err = run_cli(capsys, "history", "record", "--scan-dir", str(out), "--quarter", "2026Q2",
                           "--store", str(store))
    assert code == 2 and "the rules table has 2 rows but summary.json counts" in err


def test_a_corrupt_stored_summary_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             scanned: Path) -> None:
    _, store = _recorded(capsys, scanned, tmp_path)
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE quarters SET summary_json = '{\"truncated\": '")
    for args in (["history", "list"], ["history", "show", "2026Q1"]):
        code, _, err = run_cli(capsys, *args, "--store", str(store))
        assert code == 2 and "the summary stored for 2026Q1 is corrupt" in err and "internal error" not in err


# ----- files other tools read ----------------------------------------------------------------------------
def test_layers_are_readable_by_others_and_carry_no_local_path_or_python_none(scanned: Path) -> None:
    import json
    import re

    for layer in sorted((scanned / "layers").glob("*.json")):
        assert stat.S_IMODE(layer.stat().st_mode) == default_mode()  # the umask's mode, e.g. 0644, not 0600
        text = layer.read_text(encoding="utf-8")
        assert str(DEMO) not in text and str(REPO) not in text, layer.name
        for technique in json.loads(text)["techniques"]:
            tips = [technique.get("comment", "")] + [m.get("value", "") for m in technique.get("metadata", [])]
            assert not [t for t in tips if re.search(r"\b(visibility|detection) None\b", t)], layer.name
