"""Rule reading speed vs the bare parser: detcov.rules.read_rules against PyYAML's C safe loader (Sigma, Splunk)
and tomllib (Elastic) on the same files. Prints medians and ratios side by side (target: ratio <= 1.3).

    .venv/bin/python benchmarks/rules_read.py [runs]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import yaml

from detcov.attack import load_attack
from detcov.rules import read_rules

SHARED = Path(os.environ.get("DETCOV_SHARED", Path(__file__).resolve().parent.parent.parent / "shared"))
CORPORA = {"sigma": ("sigma/rules", "*.yml"), "splunk": ("splunk/detections", "*.yml"),
           "elastic": ("elastic/rules", "*.toml")}


def median_time(func: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def baseline(files: list[Path], toml: bool) -> None:
    for path in files:
        text = path.read_text(encoding="utf-8")
        if toml:
            tomllib.loads(text)
        else:
            list(yaml.load_all(text, Loader=yaml.CSafeLoader))


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    kb = load_attack(SHARED / "attack" / "enterprise-attack-18.1.json")
    print(f"{'corpus':<8} {'files':>6} {'rules':>6} {'parser s':>9} {'detcov 1st':>10} {'detcov s':>9} "
          f"{'files/s':>8} {'ratio 1st':>9} {'ratio':>6}")
    for name, (sub, pattern) in CORPORA.items():
        root = SHARED / "rules-corpora" / sub
        files = sorted(root.rglob(pattern))
        base = median_time(lambda f=files, n=name: baseline(f, n == "elastic"), runs)  # type: ignore[misc]
        start = time.perf_counter()
        count = len(read_rules([root], kb))  # first read in this process: id / log-source memos empty
        first = time.perf_counter() - start
        ours = median_time(lambda r=root: read_rules([r], kb), runs)  # type: ignore[misc]
        print(f"{name:<8} {len(files):>6} {count:>6} {base:>9.2f} {first:>10.2f} {ours:>9.2f} "
              f"{len(files) / ours:>8.0f} {first / base:>9.2f} {ours / base:>6.2f}")


if __name__ == "__main__":
    main()
