"""The ATT&CK bundle shipped inside detcov: intact, attributed, found last, and never needs ../shared."""

from __future__ import annotations

import hashlib
import lzma
import shutil
from pathlib import Path

import orjson
import pytest
from conftest import ATTACK_DIR, run_cli
from stix_factory import build_bundle

from detcov.attack import sources
from detcov.attack.embedded import DATA_DIR, EmbeddedBundle, embedded_bundle
from detcov.attack.sources import load_attack_data, resolve_bundle
from detcov.errors import DetcovError


@pytest.fixture()
def shipped() -> EmbeddedBundle:
    bundle = embedded_bundle()
    assert bundle is not None, f"package data missing under {DATA_DIR}"
    return bundle


@pytest.fixture()
def nowhere_else(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No DETCOV_ATTACK_DATA bundles and an empty download cache: only the shipped bundle is left."""
    empty = tmp_path / "no-bundles"
    empty.mkdir()
    monkeypatch.setenv("DETCOV_ATTACK_DATA", str(empty))
    monkeypatch.setenv("DETCOV_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_the_shipped_file_matches_its_manifest(shipped: EmbeddedBundle) -> None:
    raw = lzma.decompress(shipped.path.read_bytes())
    manifest = orjson.loads((DATA_DIR / "MANIFEST.json").read_bytes())
    assert hashlib.sha256(raw).hexdigest() == shipped.sha256 == manifest["sha256"]
    assert len(raw) == manifest["bytes"] and shipped.version == manifest["version"] == "18.1"
    assert orjson.loads(raw)["type"] == "bundle"


def test_terms_of_use_and_attribution_travel_with_it(shipped: EmbeddedBundle) -> None:
    terms = shipped.terms.read_text(encoding="utf-8")
    assert "hereby grants you a non-exclusive, royalty-free license to use ATT&CK" in terms
    assert "The MITRE Corporation" in terms and "DISCLAIMERS" in terms
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "ATTACK-TERMS-OF-USE.txt" in readme


def test_mitreattack_pins_recorded_in_the_manifest_are_mitreattacks(shipped: EmbeddedBundle) -> None:
    """The manifest explains why its checksum is not mitreattack-python's; the pins it quotes must be real."""
    from mitreattack import release_info

    pins = orjson.loads((DATA_DIR / "MANIFEST.json").read_bytes())["mitreattack_python_pins"]
    assert pins["stix20"] == release_info.STIX20["enterprise"]["18.1"]
    assert pins["stix21"] == release_info.STIX21["enterprise"]["18.1"]
    assert shipped.sha256 not in (pins["stix20"], pins["stix21"])  # a rebuild, not MITRE's file byte for byte


def test_same_file_as_the_shared_bundle(shipped: EmbeddedBundle) -> None:
    """So tests may fall back to it without ../shared (see conftest.bundle18)."""
    shared = ATTACK_DIR / "enterprise-attack-18.1.json"
    if not shared.is_file():
        pytest.skip(f"needs {shared} to compare with (the project's shared data)")
    assert hashlib.sha256(shared.read_bytes()).hexdigest() == shipped.sha256


def test_found_last_and_loaded_offline(nowhere_else: Path, shipped: EmbeddedBundle) -> None:
    assert resolve_bundle() == (shipped.path, "shipped with detcov")
    assert resolve_bundle(version="18.1") == (shipped.path, "shipped with detcov")
    cold, stats = load_attack_data()
    assert cold.info.version == "18.1" and cold.info.sha256 == shipped.sha256 and not stats.from_cache
    warm, stats = load_attack_data()
    assert stats.from_cache and stats.origin == "shipped with detcov" and len(warm.techniques) == len(cold.techniques)


def test_data_dir_and_downloads_come_first(nowhere_else: Path, tmp_path: Path) -> None:
    own = tmp_path / "no-bundles" / "enterprise-attack-18.1.json"
    own.write_bytes(orjson.dumps(build_bundle()))
    assert resolve_bundle() == (own, "DETCOV_ATTACK_DATA")
    assert resolve_bundle(version="18.1") == (own, "DETCOV_ATTACK_DATA")


def test_a_version_not_shipped_says_exactly_what_to_do(nowhere_else: Path, capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    code, _, err = run_cli(capsys, "attack", "info", "--attack-version", "17.1")
    assert code == 2 and "Traceback" not in err
    for text in ("no ATT&CK 17.1 found", "shipped with detcov has 18.1", "detcov attack download --attack-version 17.1",
                 "enterprise-attack-17.1.json", "DETCOV_ATTACK_DATA", "--attack FILE"):
        assert text in " ".join(err.split()), text


def test_a_damaged_shipped_bundle_is_refused(nowhere_else: Path, shipped: EmbeddedBundle, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "enterprise-attack-18.1.json.xz"
    fake.write_bytes(lzma.compress(orjson.dumps(build_bundle())))
    broken = EmbeddedBundle(shipped.version, fake, shipped.sha256, shipped.terms)
    monkeypatch.setattr(sources, "embedded_bundle", lambda: broken)
    monkeypatch.setattr(sources, "embedded_sha256", lambda p: broken.sha256 if p == fake else None)
    with pytest.raises(DetcovError, match="is damaged") as info:
        load_attack_data()
    assert "reinstall detcov" in str(info.value.issues[0])


def test_xz_bundles_load_and_corrupt_ones_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "enterprise-attack-42.0.json.xz"
    good.write_bytes(lzma.compress(orjson.dumps(build_bundle())))
    code, out, _ = run_cli(capsys, "attack", "info", "--attack", str(good), "--no-cache")
    assert code == 0 and "42.0" in out
    bad = tmp_path / "cut.json.xz"
    shutil.copyfile(good, bad)
    bad.write_bytes(bad.read_bytes()[:-40])
    code, _, err = run_cli(capsys, "attack", "info", "--attack", str(bad), "--no-cache")
    assert code == 2 and "is not a readable xz file" in err and "Traceback" not in err
