"""Find, read and cache an ATT&CK bundle: ``--attack PATH``, then ``$DETCOV_ATTACK_DATA``, then a bundle fetched
with ``detcov attack download``, then the bundle shipped inside detcov (:mod:`detcov.attack.embedded`).

:func:`load_attack` is the entry point for every command and notebook.
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import lzma
import os
import re
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from detcov.attack import cache
from detcov.attack.download import downloaded_path
from detcov.attack.embedded import ORIGIN as EMBEDDED_ORIGIN
from detcov.attack.embedded import embedded_bundle, embedded_sha256
from detcov.attack.kb import AttackKB
from detcov.attack.loader import SCAN_DOMAIN, AttackData, parse_bundle
from detcov.errors import DetcovError, Location

_BUNDLE_NAME = re.compile(r"^enterprise-attack-(\d+(?:\.\d+)*)\.json(?:\.gz|\.xz)?$")
NO_DATA_HINT = (
    "pass --attack PATH (a STIX bundle such as enterprise-attack-18.1.json), set DETCOV_ATTACK_DATA to a folder of "
    "bundles, or run `detcov attack download --attack-version 18.1` once"
)


def version_hint(version: str) -> str:
    """Exactly what to do to get an ATT&CK version detcov does not have."""
    return (f"run `detcov attack download --attack-version {version}` once (needs network, or DETCOV_ATTACK_URL "
            f"pointing at an internal mirror), or copy enterprise-attack-{version}.json into a folder and set "
            f"DETCOV_ATTACK_DATA to it, or pass --attack FILE")


@dataclass(frozen=True, slots=True)
class LoadStats:
    """How a load went, for ``detcov attack info``."""

    path: str
    from_cache: bool
    seconds: float
    origin: str = "--attack"
    """Where the bundle was found: --attack, DETCOV_ATTACK_DATA, the download cache or shipped with detcov."""


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def bundles_in(directory: Path) -> dict[str, Path]:
    """``enterprise-attack-<version>.json[.gz|.xz]`` files in a folder or its attack-stix-data layout."""
    found: dict[str, Path] = {}
    for folder in (directory, directory / "enterprise-attack"):
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                m = _BUNDLE_NAME.match(path.name)
                if m:
                    found.setdefault(m.group(1), path)
    return found


def _pick(found: dict[str, Path], version: str | None, where: str) -> Path:
    if version is None:
        return found[max(found, key=_version_key)]
    if version in found:
        return found[version]
    raise DetcovError(
        f"{where} has no ATT&CK {version} bundle (it has: {', '.join(sorted(found, key=_version_key)) or 'none'})",
        hint=version_hint(version),
    )


def _places() -> list[tuple[str, str, dict[str, Path]]]:
    """(origin, description, version → file) in the documented search order, after --attack."""
    places: list[tuple[str, str, dict[str, Path]]] = []
    env = os.environ.get("DETCOV_ATTACK_DATA")
    if env:
        places.append(("DETCOV_ATTACK_DATA", f"DETCOV_ATTACK_DATA={env}", bundles_in(Path(env).expanduser())))
    places.append(("the download cache", "the download cache", bundles_in(downloaded_path("0").parent)))
    shipped = embedded_bundle()
    if shipped is not None:
        places.append((EMBEDDED_ORIGIN, f"the bundle {EMBEDDED_ORIGIN}", {shipped.version: shipped.path}))
    return places


def resolve_bundle(path: str | Path | None = None, version: str | None = None) -> tuple[Path, str]:
    """(bundle file, where it was found) by the documented order. Raises with a how-to when there is none."""
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise DetcovError("ATT&CK bundle not found", location=Location(str(p)), hint=NO_DATA_HINT)
        return p, "--attack"
    places = _places()
    for origin, where, found in places:
        if found and (version is None or version in found):
            return _pick(found, version, where), origin
    have = "; ".join(f"{where} has {', '.join(sorted(f, key=_version_key))}" for _, where, f in places if f)
    wanted = f"ATT&CK {version}" if version else "ATT&CK data"
    raise DetcovError(f"no {wanted} found" + (f" ({have})" if have else ""),
                      hint=version_hint(version) if version else NO_DATA_HINT)


def resolve_bundle_path(path: str | Path | None = None, version: str | None = None) -> Path:
    """Which bundle file to use (see :func:`resolve_bundle`)."""
    return resolve_bundle(path, version)[0]


def read_bundle_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DetcovError(f"cannot read the file ({exc.strerror})", location=Location(str(path)),
                          hint="check the path and its permissions") from exc
    if path.suffix == ".gz" or raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DetcovError(f"is not a readable gzip file ({exc})", location=Location(str(path)),
                              hint="the file looks truncated or corrupt: download it again") from exc
    if path.suffix == ".xz" or raw[:6] == b"\xfd7zXZ\x00":
        try:
            return lzma.decompress(raw)
        except (lzma.LZMAError, EOFError) as exc:
            raise DetcovError(f"is not a readable xz file ({exc})", location=Location(str(path)),
                              hint="the file looks truncated or corrupt: copy or download it again") from exc
    return raw


def parse_json(raw: bytes, path: Path) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        truncated = exc.pos >= len(raw.rstrip()) - 1
        hint = ("the file looks truncated: download it again" if truncated
                else "pass an ATT&CK STIX bundle (.json or .json.gz)")
        raise DetcovError(f"is not valid JSON ({exc.msg})", location=Location(str(path), exc.lineno, exc.colno),
                          hint=hint) from exc


@contextmanager
def paused_gc() -> Iterator[None]:
    """Building ~60 k small objects (100 k rules: millions) triggers the cyclic GC dozens of times for nothing; pause
    it meanwhile. What was built lives as long as the run, so it is then frozen out of the GC's sight: later
    collections need not walk it again (objects that lose their last reference are still freed)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def load_attack_data(
    path: str | Path | None = None, version: str | None = None, *, use_cache: bool = True,
    domain: str | None = SCAN_DOMAIN,
) -> tuple[AttackData, LoadStats]:
    """Resolve, read (from the normalised cache when possible) and parse an ATT&CK bundle. ``domain`` None accepts
    Mobile and ICS bundles too (``attack info|show``, profiles); the scan needs Enterprise (the default)."""
    with paused_gc():
        return _load_attack_data(path, version, use_cache, domain)


def _load_attack_data(path: str | Path | None, version: str | None, use_cache: bool,
                      domain: str | None) -> tuple[AttackData, LoadStats]:
    started = time.perf_counter()
    bundle, origin = resolve_bundle(path, version)
    pinned = embedded_sha256(bundle)
    sha = pinned or (cache.remembered_sha256(bundle) if use_cache else None)
    if sha is not None and use_cache:
        data = cache.read_cache(sha)
        if data is not None and domain in (None, data.info.domain):
            return data, LoadStats(str(bundle), True, time.perf_counter() - started, origin)
    raw = read_bundle_bytes(bundle)
    sha = hashlib.sha256(raw).hexdigest()
    if pinned is not None and sha != pinned:
        raise DetcovError(f"the ATT&CK bundle {EMBEDDED_ORIGIN} is damaged (SHA-256 {sha[:16]}…, expected "
                          f"{pinned[:16]}…)", location=Location(str(bundle)),
                          hint="reinstall detcov (pip install --force-reinstall detcov), or pass --attack FILE")
    data = parse_bundle(parse_json(raw, bundle), source=str(bundle), sha256=sha, domain=domain)
    if version is not None and data.info.version not in (None, version):
        raise DetcovError(f"holds ATT&CK {data.info.version}, not {version}", location=Location(str(bundle)),
                          hint="drop --attack-version or pass the matching bundle")
    if use_cache:
        _store(bundle, data)
    return data, LoadStats(str(bundle), False, time.perf_counter() - started, origin)


def _store(bundle: Path, data: AttackData) -> None:
    try:
        cache.write_cache(data)
        cache.remember_sha256(bundle, data.info.sha256)
    except OSError:
        pass  # no writable cache dir: every run is a cold run, nothing else breaks


def load_attack(path: str | Path | None = None, version: str | None = None, *, use_cache: bool = True,
                domain: str | None = SCAN_DOMAIN) -> AttackKB:
    """The knowledge base for the chosen bundle (see :func:`resolve_bundle_path` for the search order)."""
    data, _ = load_attack_data(path, version, use_cache=use_cache, domain=domain)
    return AttackKB(data)
