"""Download an ATT&CK Enterprise bundle, verified against its published SHA-256. Only on the user's request.

The pinned checksums are mitreattack-python's (``mitreattack.release_info``), not a copy of ours. Banks that
mirror MITRE's attack-stix-data internally set ``DETCOV_ATTACK_URL`` (a base URL, or a template containing
``{version}``). A bundle that fails its checksum is refused and nothing is cached.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from detcov.attack.cache import cache_dir
from detcov.errors import DetcovError
from detcov.fileio import atomic_write

DEFAULT_BASE_URL = "https://raw.githubusercontent.com/mitre-attack/attack-stix-data/master"
STIX_LAYOUT = "{domain}-attack/{domain}-attack-{version}.json"
DOWNLOAD_DOMAINS = ("enterprise", "mobile", "ics")
TESTED_REAL = ("17.1", "18.1")  # releases detcov's tests run on with MITRE's real bundles
TESTED_SYNTHETIC = "v19/v20-shaped bundles built from 18.1"  # what newer releases are tested on (tests/v19_bundle.py)


def published_checksums(domain: str = "enterprise") -> dict[str, str]:
    """ATT&CK version -> SHA-256 of the STIX 2.1 bundle of ``domain`` (enterprise, mobile, ics), as pinned by
    mitreattack-python."""
    from mitreattack import release_info  # heavy import: only when downloading

    return dict(release_info.STIX21[domain])


def latest_pinned_version(checksums: Mapping[str, str] | None = None) -> str:
    pins = checksums if checksums is not None else published_checksums()
    return max(pins, key=lambda v: tuple(int(p) for p in v.split(".") if p.isdigit()))


def untested_warning(version: str) -> str | None:
    """What to tell the user before fetching a release detcov was not tested on with real data (None if it was)."""
    if version in TESTED_REAL:
        return None
    newest = TESTED_REAL[-1]
    return (f"ATT&CK {version} is not one of the releases detcov is tested on with MITRE's real data "
            f"({', '.join(TESTED_REAL)}); newer releases are tested on {TESTED_SYNTHETIC} only. It should load; "
            f"rules tagged with v18 ids count through the crosswalk. Pass --attack-version {newest} for the newest "
            "release tested on real data.")


def bundle_url(version: str, base: str | None = None, domain: str = "enterprise") -> str:
    base = base or os.environ.get("DETCOV_ATTACK_URL") or DEFAULT_BASE_URL
    if "{version}" in base:
        return base.format(version=version, domain=domain)
    return f"{base.rstrip('/')}/{STIX_LAYOUT.format(version=version, domain=domain)}"


def downloaded_path(version: str, directory: Path | None = None, domain: str = "enterprise") -> Path:
    return (directory or cache_dir()) / "bundles" / f"{domain}-attack-{version}.json"


def download_bundle(
    version: str,
    *,
    base_url: str | None = None,
    checksums: Mapping[str, str] | None = None,
    expected_sha256: str | None = None,
    directory: Path | None = None,
    timeout: float = 60.0,
    domain: str = "enterprise",
) -> Path:
    """Fetch, verify and store the ``domain`` bundle for ``version``; return its path in the cache dir (Mobile and
    ICS bundles are read with ``--attack PATH``)."""
    pins = checksums if checksums is not None else published_checksums(domain)
    expected = expected_sha256 or pins.get(version)
    if not expected:
        known = ", ".join(sorted(pins, key=lambda v: tuple(int(p) for p in v.split(".") if p.isdigit()))[-5:])
        raise DetcovError(
            f"no published SHA-256 for ATT&CK {'' if domain == 'enterprise' else domain + ' '}{version} "
            f"(known: {known})",
            hint="pick a known version, upgrade mitreattack-python, or pass --sha256 with the checksum MITRE publishes",
        )
    url = bundle_url(version, base_url, domain)
    content = _fetch(url, timeout)
    actual = hashlib.sha256(content).hexdigest()
    if actual != expected.lower():
        raise DetcovError(
            f"{url}: checksum mismatch (got {actual[:16]}…, expected {expected[:16]}…); nothing was saved",
            hint="the download is truncated or altered: try again, or check the mirror in DETCOV_ATTACK_URL",
        )
    target = downloaded_path(version, directory, domain)
    atomic_write(target, content)
    return target


def _fetch(url: str, timeout: float) -> bytes:
    import urllib.error  # only when downloading: urllib.request pulls in http.client, ssl, email
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as exc:
        raise DetcovError(
            f"{url}: the server answered HTTP {exc.code} {exc.reason}",
            hint="check the version and DETCOV_ATTACK_URL, or use --attack PATH with a local bundle",
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DetcovError(
            f"{url}: download failed ({reason})",
            hint="no network? copy the bundle here and use --attack PATH or DETCOV_ATTACK_DATA=DIR",
        ) from exc
