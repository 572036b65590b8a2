"""A synthetic Sigma corpus of any size: the shared SigmaHQ rules copied with new ids (shared by the benchmarks).

    .venv/bin/python benchmarks/synthetic_sigma.py 100000 /tmp/sigma-100k

Copy k of a rule keeps its text (so parsing costs what real rules cost) and gets a new ``id:`` (a UUID derived
from the original id and k), under ``copy-k/`` with the original relative path.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("DETCOV_SHARED", REPO.parent / "shared"))
SIGMA = SHARED / "rules-corpora" / "sigma" / "rules"
_ID_LINE = re.compile(rb"^id:[ \t]*(\S+)[ \t]*$", re.MULTILINE)


def sigma_sources(root: Path = SIGMA) -> list[tuple[Path, bytes]]:
    """(relative path, bytes) of every Sigma rule file under root, sorted."""
    if not root.is_dir():
        raise SystemExit(f"needs the SigmaHQ corpus at {root} (the project's shared data; or set DETCOV_SHARED)")
    return [(p.relative_to(root), p.read_bytes()) for p in sorted(root.rglob("*.yml"))]


def write_corpus(target: Path, n: int, sources: list[tuple[Path, bytes]] | None = None) -> int:
    """Write ``n`` rule files under ``target`` (created); returns the number of files written."""
    sources = sources or sigma_sources()
    written = 0
    copy = 0
    while written < n:
        for rel, raw in sources:
            if written == n:
                break
            out = target / f"copy-{copy}" / rel
            out.parent.mkdir(parents=True, exist_ok=True)

            def new_id(m: re.Match[bytes], k: int = copy) -> bytes:
                return b"id: " + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{m.group(1).decode()}/{k}")).encode()

            out.write_bytes(_ID_LINE.sub(new_id, raw, count=1) if copy else raw)
            written += 1
        copy += 1
    return written


if __name__ == "__main__":
    count, folder = int(sys.argv[1]), Path(sys.argv[2])
    print(f"wrote {write_corpus(folder, count)} Sigma files under {folder}")
