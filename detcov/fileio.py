"""Small file helpers shared by every writer."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def atomic_write(path: Path, content: bytes | Iterable[bytes]) -> None:
    """Write to a temporary file beside ``path`` and rename it into place: a killed run never leaves half a file,
    and the previous version stays intact until the new one is complete. ``content`` may be an iterable of parts,
    written as they come (a large file is never whole in memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if isinstance(content, bytes):
                fh.write(content)
            else:
                fh.writelines(content)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
