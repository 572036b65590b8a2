"""Why the shipped ATT&CK bundle is xz: size in the wheel vs decompression time, gzip and xz side by side.

    .venv/bin/python benchmarks/embedded_bundle.py [--runs 3]

Decompression only happens on the first run after installation (later runs read the normalised cache); the
ratios are to the raw JSON size and to parsing the raw JSON with orjson.
"""

from __future__ import annotations

import argparse
import gzip
import lzma
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import orjson  # noqa: E402

from detcov.attack.embedded import embedded_bundle  # noqa: E402


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    shipped = embedded_bundle()
    if shipped is None:
        raise SystemExit("the package has no shipped ATT&CK bundle")
    xz = shipped.path.read_bytes()
    raw = lzma.decompress(xz)
    gz = gzip.compress(raw, 9, mtime=0)
    parse = median_seconds(lambda: orjson.loads(raw), runs)
    print(f"ATT&CK {shipped.version}: {len(raw) / 1e6:.1f} MB raw; orjson parse {parse * 1000:.0f} ms; "
          f"medians of {runs}")
    print(f"{'format':<12}{'MB':>7}{'size/raw':>10}{'decompress ms':>15}{'decompress/parse':>18}")
    print(f"{'json':<12}{len(raw) / 1e6:>7.1f}{1:>9.2f}x{0:>15.0f}{0:>17.2f}x")
    for name, blob, dec in (("gzip -9", gz, gzip.decompress), ("xz -6", xz, lzma.decompress)):
        t = median_seconds(lambda blob=blob, dec=dec: dec(blob), runs)  # type: ignore[misc]
        print(f"{name:<12}{len(blob) / 1e6:>7.1f}{len(blob) / len(raw):>9.2f}x{t * 1000:>15.0f}{t / parse:>17.2f}x")


if __name__ == "__main__":
    main()
