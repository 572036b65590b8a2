"""Shared fixtures.

Real data comes from ``../shared`` (beside the repo, or ``$DETCOV_SHARED``). In CI (``CI=true``) a test that needs
it fails when it is missing; elsewhere it is skipped naming exactly what is missing. ATT&CK 18.1 is the exception:
without ``../shared`` the tests use the bundle shipped inside detcov (the same file: same SHA-256, checked in
``tests/test_attack_embedded.py``). Each test session gets its own empty detcov cache dir.
"""

from __future__ import annotations

import hashlib
import lzma
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from detcov.attack import AttackKB
from detcov.attack.embedded import embedded_bundle
from detcov.attack.sources import load_attack

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("DETCOV_SHARED", REPO.parent / "shared"))
ATTACK_DIR = SHARED / "attack"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``detcov ARGS`` in-process as a user would: (exit status, stdout, stderr)."""
    from detcov.cli.main import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def shared_path(*parts: str) -> Path:
    """A path under ../shared that a test needs: fail in CI if missing, skip elsewhere."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = (f"needs the project's shared data: {path} is missing (put the shared/ folder beside the repo, "
                   "or set DETCOV_SHARED=DIR)")
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("detcov-cache")
    old = os.environ.get("DETCOV_CACHE_DIR")
    os.environ["DETCOV_CACHE_DIR"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("DETCOV_CACHE_DIR", None)
    else:
        os.environ["DETCOV_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def browser() -> Path:
    """Headless Chromium for render tests: mandatory in CI (.ci/run installs it), skipped elsewhere if absent."""
    from detcov.outputs.chromium import find_chromium

    found = find_chromium()
    if found is None:
        message = "headless Chromium not installed (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def bundle18(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ATT&CK 18.1 as a plain .json file: ../shared's, else the bundle shipped with detcov, decompressed."""
    shared = ATTACK_DIR / "enterprise-attack-18.1.json"
    if shared.is_file():
        return shared
    shipped = embedded_bundle()
    assert shipped is not None and shipped.version == "18.1", "the package lost its shipped ATT&CK bundle"
    raw = lzma.decompress(shipped.path.read_bytes())
    assert hashlib.sha256(raw).hexdigest() == shipped.sha256
    path = tmp_path_factory.mktemp("attack") / "enterprise-attack-18.1.json"
    path.write_bytes(raw)
    return path


@pytest.fixture(scope="session")
def bundle17() -> Path:
    return shared_path("attack", "enterprise-attack-17.1.json")


@pytest.fixture(scope="session")
def kb18(bundle18: Path) -> AttackKB:
    return load_attack(bundle18)


@pytest.fixture(scope="session")
def kb17(bundle17: Path) -> AttackKB:
    return load_attack(bundle17)


@pytest.fixture(scope="session", params=["17.1", "18.1"])
def kb_any(request: pytest.FixtureRequest, kb17: AttackKB, kb18: AttackKB) -> AttackKB:
    return kb17 if request.param == "17.1" else kb18
