"""The bad-input corpus (tests/badinput/): every broken file is one clear line, exit 2, nothing lost. (Issue 15.)"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, run_cli

CORPUS = Path(__file__).resolve().parent / "badinput"
DEMO = REPO / "examples" / "demo-bank"
CASES: list[dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_corpus_folder_has_a_case() -> None:
    folders = {p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert folders == {c["case"] for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_bad_input_is_one_line_with_location_and_fix(case: dict[str, Any], tmp_path: Path, bundle18: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "bank"
    shutil.copytree(DEMO, work)
    shutil.copytree(CORPUS / case["case"], work, dirs_exist_ok=True)
    before = _hashes(work)
    command = [a.replace("{dir}", str(work)) for a in case.get("command", ["scan", "{dir}/detcov.yaml",
                                                                          "--out", "{dir}/../out"])]
    code, _, err = run_cli(capsys, *command, "--attack", str(bundle18))
    flat = " ".join(err.split())  # rich wraps long lines on stderr
    assert code == case.get("exit", 2), err
    assert "internal error" not in err and "Traceback" not in err
    for fragment in case["expect"]:
        assert " ".join(fragment.split()) in flat, f"{fragment!r} not in:\n{err}"
    assert _hashes(work) == before  # no input touched
    if code == 2 and case.get("command") is None:
        assert not (tmp_path / "out").exists()  # nothing half-written


def test_an_unreadable_rule_folder_is_an_error_not_a_silent_skip(tmp_path: Path, kb18: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A sub-folder the user cannot list used to vanish ("0 skipped", exit 0). (root reads everything, so the
    kernel's EACCES is replayed through os.walk's onerror, exactly where it would arrive.)"""
    import os

    from detcov.rules import read_rules

    (tmp_path / "rules" / "locked").mkdir(parents=True)
    real_walk = os.walk

    def walk(top: Any, *args: Any, onerror: Any = None, **kwargs: Any) -> Any:
        for folder, dirs, names in real_walk(top, *args, **kwargs):
            if folder.endswith("locked"):
                if onerror is not None:
                    onerror(PermissionError(13, "Permission denied", folder))
                continue
            yield folder, dirs, names

    monkeypatch.setattr("detcov.rules.reader.os.walk", walk)
    ruleset = read_rules([tmp_path / "rules"], kb18)
    assert [str(i) for i in ruleset.issues] == [
        f"{tmp_path / 'rules' / 'locked'}: cannot read this folder (Permission denied): its rules are not counted"
        " — give the user running detcov read access to it"]
