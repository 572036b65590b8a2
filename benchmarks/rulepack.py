"""Rule-pack speed: select-then-convert (detcov) against parsing the whole Sigma corpus with pySigma.

detcov reads the corpus with its own fast reader, selects the candidates, and hands only those to pySigma.
The naive alternative parses every rule with pySigma (``SigmaCollection``) before choosing. Prints medians
and ratios side by side for the demo bank.

    .venv/bin/python benchmarks/rulepack.py [runs]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from detcov.coverage.engine import run_scan
from detcov.rulepack import convert, select_candidates
from detcov.rules import read_rules

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("DETCOV_SHARED", REPO.parent / "shared"))
SIGMA = SHARED / "rules-corpora" / "sigma" / "rules"
ATTACK = SHARED / "attack" / "enterprise-attack-18.1.json"
CONFIG = REPO / "examples" / "demo-bank" / "detcov.yaml"
T = TypeVar("T")


def median_time(func: Callable[[], T], runs: int) -> tuple[float, T]:
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def pysigma_parse_all(files: list[Path]) -> int:
    from sigma.collection import SigmaCollection

    return sum(len(SigmaCollection.from_yaml(f.read_text(encoding="utf-8")).rules) for f in files)


def main(runs: int) -> None:
    scan = run_scan(CONFIG, attack_path=ATTACK)
    files = sorted(SIGMA.rglob("*.yml"))
    t_read, ruleset = median_time(lambda: read_rules(SIGMA, scan.kb, "sigma"), runs)
    rules = ruleset.rules
    t_select, cands = median_time(lambda: select_candidates(scan.kb, scan.gaps, scan.telemetry,
                                                            scan.ruleset.rules, rules, 30), runs)
    t_conv = {t: median_time(partial(convert, cands, t, scan.telemetry), runs)[0]
              for t in ("splunk", "elastic", "elastic-esql", "sentinel")}
    t_pysigma, parsed = median_time(lambda: pysigma_parse_all(files), 1)
    ours = t_read + t_select + t_conv["splunk"]
    print(f"Sigma corpus: {len(files)} files, {len(rules)} rules read by detcov, {parsed} parsed by pySigma")
    print(f"{'step':<44}{'median s':>10}")
    print(f"{'detcov read_rules (whole corpus)':<44}{t_read:>10.2f}")
    print(f"{'select_candidates (top 30, demo bank)':<44}{t_select:>10.2f}")
    for target, seconds in t_conv.items():
        print(f"{'convert 30 -> ' + target:<44}{seconds:>10.2f}")
    print(f"{'detcov total (read + select + splunk)':<44}{ours:>10.2f}")
    print(f"{'pySigma parse of the whole corpus (1 run)':<44}{t_pysigma:>10.2f}")
    print(f"ratio pySigma-parse-all / detcov total: {t_pysigma / ours:.1f}x "
          f"(and converting all {parsed} would add ~{t_conv['splunk'] / 30 * parsed:.0f} s per target)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
