"""ATT&CK load benchmark: orjson.loads vs detcov cold / warm vs mitreattack-python, side by side in one run.

    .venv/bin/python benchmarks/attack_load.py [--bundle PATH] [--runs 5] [--skip-mitreattack]

Targets (issue 2): cold <= 1.5x orjson.loads; warm <= 0.15x orjson.loads. Times are process CPU time (this machine
is shared and noisy; CPU time is the steadier figure), medians of --runs runs; ratios are to orjson.loads.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from detcov.attack import cache  # noqa: E402
from detcov.attack.sources import load_attack_data  # noqa: E402


def measure(fn: Callable[[], object], runs: int, setup: Callable[[], None] | None = None) -> float:
    times = []
    for _ in range(runs):
        if setup:
            setup()
        gc.collect()
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = REPO.parent / "shared" / "attack" / "enterprise-attack-18.1.json"
    parser.add_argument("--bundle", type=Path, default=default)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-mitreattack", action="store_true", help="skip MitreAttackData (about 10 s a run)")
    args = parser.parse_args()
    bundle: Path = args.bundle
    os.environ["DETCOV_CACHE_DIR"] = tempfile.mkdtemp(prefix="detcov-bench-")

    def clear_cache() -> None:
        for f in (cache.cache_dir() / "attack").glob("*"):
            f.unlink()

    def warm_full() -> None:
        data, _ = load_attack_data(bundle)
        data.lazy.materialise()

    rows: list[tuple[str, float]] = [
        ("orjson.loads(file)", measure(lambda: orjson.loads(bundle.read_bytes()), args.runs)),
        ("detcov cold: parse + index (no cache)", measure(lambda: load_attack_data(bundle, use_cache=False),
                                                          args.runs)),
        ("detcov cold run: parse + index + write cache", measure(lambda: load_attack_data(bundle), args.runs,
                                                                 clear_cache)),
    ]
    load_attack_data(bundle)  # make sure the cache exists
    rows.append(("detcov warm: ready to query (cache)", measure(lambda: load_attack_data(bundle), args.runs)))
    rows.append(("detcov warm: every section decoded", measure(warm_full, args.runs)))
    if not args.skip_mitreattack:
        from mitreattack.stix20 import MitreAttackData

        rows.append(("mitreattack MitreAttackData(file)", measure(lambda: MitreAttackData(str(bundle)),
                                                               max(1, min(args.runs, 3)))))
    base = rows[0][1]
    print(f"bundle: {bundle} ({bundle.stat().st_size / 1e6:.1f} MB), {args.runs} runs, median CPU seconds")
    print(f"{'what':48} {'seconds':>9} {'x orjson':>9}")
    for label, seconds in rows:
        print(f"{label:48} {seconds:9.3f} {seconds / base:9.2f}")
    print("targets: cold <= 1.50x, warm <= 0.15x")


if __name__ == "__main__":
    main()
