"""The ATT&CK Enterprise bundle shipped inside the package (``detcov/attack/data``), the last place detcov looks.

``MANIFEST.json`` beside it names the version and the SHA-256 of the decompressed bundle; the loader checks that
checksum whenever it decompresses the file (a warm run reads the normalised cache, keyed by that checksum, and
never touches the bundle). MITRE's terms of use travel next to it in ``ATTACK-TERMS-OF-USE.txt``.

Why xz: 2.7 MB in the wheel instead of 33 MB raw or 7.5 MB gzip; decompressing costs about 0.2 s, once, on the
first run after installation (``benchmarks/embedded_bundle.py`` prints the comparison).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import orjson

DATA_DIR = Path(__file__).resolve().parent / "data"
ORIGIN = "shipped with detcov"


@dataclass(frozen=True, slots=True)
class EmbeddedBundle:
    version: str
    path: Path
    sha256: str
    """SHA-256 of the decompressed bundle."""
    terms: Path


@cache
def embedded_bundle() -> EmbeddedBundle | None:
    """The shipped bundle, or None when the package data is missing (a stripped install)."""
    try:
        manifest = orjson.loads((DATA_DIR / "MANIFEST.json").read_bytes())
        bundle = EmbeddedBundle(str(manifest["version"]), DATA_DIR / str(manifest["file"]),
                                str(manifest["sha256"]), DATA_DIR / str(manifest["terms"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return bundle if bundle.path.is_file() else None


def embedded_sha256(path: Path) -> str | None:
    """The pinned SHA-256 when ``path`` is the shipped bundle, else None."""
    bundle = embedded_bundle()
    return bundle.sha256 if bundle is not None and path == bundle.path else None
