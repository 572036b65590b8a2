"""ICS and Mobile bundles: ``attack info|show`` and profiles read them; the Enterprise-only commands say so."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest
from conftest import run_cli
from local_mirror import serving
from stix_factory import build_bundle

from detcov.attack.download import downloaded_path


@pytest.fixture(params=["ics-attack", "mobile-attack"])
def other_domain(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / f"{request.param}-18.1.json"
    path.write_bytes(orjson.dumps(build_bundle(domain=request.param)))
    return request.param, path


def test_info_show_and_profiles_read_it(capsys: pytest.CaptureFixture[str], other_domain: tuple[str, Path]) -> None:
    domain, path = other_domain
    code, out, err = run_cli(capsys, "attack", "info", "--attack", str(path))
    assert code == 0, err
    assert domain in out and "Enterprise only" in out
    code, out, err = run_cli(capsys, "attack", "show", "T1001.001", "--attack", str(path))
    assert code == 0 and "Shell One" in out and "G0001" in out, err
    code, out, err = run_cli(capsys, "profile", "show", "Fin Bandits", "--attack", str(path))
    assert code == 0 and "Fin Bandits" in out and "T1001.001" in out, err


def test_enterprise_only_commands_say_so(capsys: pytest.CaptureFixture[str], other_domain: tuple[str, Path],
                                         tmp_path: Path) -> None:
    domain, path = other_domain
    (tmp_path / "rules").mkdir()
    code, _, err = run_cli(capsys, "rules", "check", str(tmp_path / "rules"), "--attack", str(path))
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err
    assert f"is an ATT&CK bundle for {domain}, not enterprise-attack" in lines[0]
    assert "attack info|show" in lines[0] and "profile" in lines[0]


def test_download_a_mobile_bundle(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DETCOV_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "mirror" / "mobile-attack").mkdir(parents=True)
    content = orjson.dumps(build_bundle(domain="mobile-attack"))
    (tmp_path / "mirror" / "mobile-attack" / "mobile-attack-18.1.json").write_bytes(content)
    with serving(tmp_path / "mirror") as url:
        code, out, err = run_cli(capsys, "attack", "download", "--domain", "mobile", "--attack-version", "18.1",
                                 "--url", url, "--sha256", hashlib.sha256(content).hexdigest())
    assert code == 0, err
    saved = downloaded_path("18.1", tmp_path / "cache", "mobile")
    assert saved.read_bytes() == content and "synthetic data only" in err
    code, out, _ = run_cli(capsys, "attack", "info", "--attack", str(saved))
    assert code == 0 and "mobile-attack" in out
