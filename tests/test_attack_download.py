"""Downloads against a local http.server on 127.0.0.1 serving ../shared/attack (never the internet)."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_mirror import serving

from detcov.attack.download import bundle_url, download_bundle, downloaded_path, published_checksums
from detcov.attack.sources import load_attack_data
from detcov.errors import DetcovError

pytestmark = pytest.mark.attack_real


@pytest.fixture(scope="module")
def server(bundle17: Path) -> Iterator[str]:
    with serving(bundle17.parent) as url:
        yield f"{url}/enterprise-attack-{{version}}.json"


@pytest.fixture(scope="module")
def sha17(bundle17: Path) -> str:
    return hashlib.sha256(bundle17.read_bytes()).hexdigest()


def test_good_checksum_is_saved_and_loads(server: str, sha17: str, tmp_path: Path) -> None:
    path = download_bundle("17.1", base_url=server, checksums={"17.1": sha17}, directory=tmp_path)
    assert path == downloaded_path("17.1", tmp_path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha17
    data, _ = load_attack_data(path)
    assert data.info.version == "17.1"


def test_bad_checksum_is_refused_and_nothing_cached(server: str, tmp_path: Path) -> None:
    with pytest.raises(DetcovError, match="checksum mismatch") as exc:
        download_bundle("17.1", base_url=server, checksums={"17.1": "0" * 64}, directory=tmp_path)
    assert "nothing was saved" in str(exc.value)
    assert not downloaded_path("17.1", tmp_path).exists()
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_missing_file_on_server(server: str, tmp_path: Path) -> None:
    with pytest.raises(DetcovError, match="HTTP 404"):
        download_bundle("16.0", base_url=server, checksums={"16.0": "0" * 64}, directory=tmp_path)


def test_server_down_gives_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DetcovError, match="download failed") as exc:
        download_bundle("17.1", base_url=f"http://127.0.0.1:{port}", checksums={"17.1": "0" * 64},
                        directory=tmp_path, timeout=5)
    assert "--attack PATH" in str(exc.value)


def test_unknown_version_without_checksum(tmp_path: Path) -> None:
    with pytest.raises(DetcovError, match=r"no published SHA-256 for ATT&CK 1\.0"):
        download_bundle("1.0", checksums={"17.1": "x"}, directory=tmp_path)


def test_pins_come_from_mitreattack_and_urls_follow_the_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    pins = published_checksums()
    assert len(pins["18.1"]) == 64
    monkeypatch.setenv("DETCOV_ATTACK_URL", "https://mirror.bank.example/attack")
    assert bundle_url("18.1") == "https://mirror.bank.example/attack/enterprise-attack/enterprise-attack-18.1.json"
