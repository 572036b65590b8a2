"""``detcov attack info|show``, and bad input: one clear line, exit status 2, no traceback."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from conftest import run_cli
from stix_factory import build_bundle

from detcov.cli.main import main


@pytest.mark.attack_real
def test_info_counts_on_18_1(capsys: pytest.CaptureFixture[str], bundle18: Path) -> None:
    code, out, _ = run_cli(capsys, "attack", "info", "--attack", str(bundle18))
    assert code == 0
    for text in ("18.1", "enterprise-attack", "691", "1739", "Reconnaissance", "Impact", "216", "475"):
        assert text in out


@pytest.mark.attack_real
def test_info_from_data_dir_picks_newest(capsys: pytest.CaptureFixture[str], bundle18: Path, bundle17: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert bundle17.parent == bundle18.parent  # ../shared/attack holds both
    monkeypatch.setenv("DETCOV_ATTACK_DATA", str(bundle18.parent))
    code, out, _ = run_cli(capsys, "attack", "info")
    assert code == 0 and "ATT&CK 18.1" in out
    code, out, _ = run_cli(capsys, "attack", "info", "--attack-version", "17.1")
    assert code == 0 and "ATT&CK 17.1" in out and "v17 and earlier" in out


@pytest.mark.attack_real
def test_show_powershell_v18(capsys: pytest.CaptureFixture[str], bundle18: Path) -> None:
    code, out, _ = run_cli(capsys, "attack", "show", "t1059.001", "--attack", str(bundle18))
    assert code == 0
    for text in ("PowerShell", "Execution", "Windows", "DC0032", "EventCode=1", "AN1252", "G0046", "M1042"):
        assert text in out, text


@pytest.mark.attack_real
def test_show_revoked_and_unknown(capsys: pytest.CaptureFixture[str], bundle18: Path) -> None:
    code, out, err = run_cli(capsys, "attack", "show", "T1073", "--attack", str(bundle18))
    assert code == 0 and "revoked" in err and "T1574.001" in out
    code, _, err = run_cli(capsys, "attack", "show", "T1059.099", "--attack", str(bundle18))
    assert code == 2 and "not in this ATT&CK version" in err and "T1059" in err
    assert "Traceback" not in err


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    good = orjson.dumps(build_bundle())
    files = {
        "missing": (tmp / "nope.json", "not found"),
        "not-json": (tmp / "a.json", "not valid JSON"),
        "not-stix": (tmp / "b.json", "not a STIX bundle"),
        "truncated": (tmp / "c.json", "truncated"),
        "truncated-gz": (tmp / "d.json.gz", "gzip"),
        "mobile": (tmp / "e.json", "mobile-attack"),
    }
    files["not-json"][0].write_text("hello: world\n")
    files["not-stix"][0].write_bytes(orjson.dumps({"type": "report", "objects": []}))
    files["truncated"][0].write_bytes(good[: len(good) // 2])
    files["truncated-gz"][0].write_bytes(gzip.compress(good)[:200])
    files["mobile"][0].write_bytes(orjson.dumps(build_bundle(domain="mobile-attack")))
    return files


@pytest.mark.parametrize("case", ["missing", "not-json", "not-stix", "truncated", "truncated-gz"])
def test_bad_bundle_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str) -> None:
    path, expected = _bad_files(tmp_path)[case]
    code, _, err = run_cli(capsys, "attack", "info", "--attack", str(path))
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert expected in lines[0] and path.name in lines[0] and "Traceback" not in err


def test_debug_shows_traceback(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{")
    from detcov.errors import DetcovError

    with pytest.raises(DetcovError):
        main(["--debug", "attack", "info", "--attack", str(path)])


def test_gzip_bundle_loads(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "enterprise-attack-42.0.json.gz"
    path.write_bytes(gzip.compress(orjson.dumps(build_bundle())))
    code, out, _ = run_cli(capsys, "attack", "info", "--attack", str(path))
    assert code == 0 and "42.0" in out


def test_no_data_anywhere_says_what_to_do(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    from detcov.attack import sources

    monkeypatch.setenv("DETCOV_ATTACK_DATA", str(tmp_path))
    monkeypatch.setenv("DETCOV_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(sources, "embedded_bundle", lambda: None)  # a stripped install without package data
    code, _, err = run_cli(capsys, "attack", "info")
    assert code == 2 and "detcov attack download" in err and "DETCOV_ATTACK_DATA" in err
