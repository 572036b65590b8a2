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
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

from detcov.coverage.engine import ScanResult, run_scan
from detcov.rulepack import Candidate, convert, select, select_candidates
from detcov.rulepack.scope import GroupView, group_views
from detcov.rulepack.whatif import pack_rules, what_if
from detcov.rules import Rule, read_rules

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
    suggest_old_vs_new(scan, rules, runs)


def old_select(scan: ScanResult, rules: Sequence[Rule]) -> list[Candidate]:
    """The former selection: telemetry-wide filter, and the YAML of every eligible rule read again for its
    false-positive notes before ranking (a second parse of most of the corpus)."""
    select._documents.cache_clear()
    wanted = {g.technique: g for g in scan.gaps if g.gap in ("rule-gap", "broken")}
    for item in select.eligible_rules(scan.kb, wanted, scan.telemetry, scan.ruleset.rules, rules):
        select.read_extras(item.rule)
    return select_candidates(scan.kb, scan.gaps, scan.telemetry, scan.ruleset.rules, rules, 30)


def new_select(scan: ScanResult, rules: Sequence[Rule], groups: tuple[GroupView, ...]) -> list[Candidate]:
    select._documents.cache_clear()
    return select_candidates(scan.kb, scan.gaps, scan.telemetry, scan.ruleset.rules, rules, 30, groups=groups)


def suggest_old_vs_new(scan: ScanResult, rules: Sequence[Rule], runs: int) -> None:
    """``detcov suggest`` after the corpus is read: old (extras of every eligible rule, what-if = a second full
    scan) vs new (extras only where ranks compete, what-if = the first scan re-scored with the pack), side by
    side."""
    groups = group_views(scan.estate)
    t_old_sel, old = median_time(lambda: old_select(scan, rules), runs)
    t_new_sel, new = median_time(lambda: new_select(scan, rules, groups), runs)
    conv_old = convert(old, "splunk", scan.telemetry)
    conv_new = convert(new, "splunk", scan.telemetry, groups=groups)
    extra = pack_rules(conv_old)
    t_old_wi, _ = median_time(lambda: run_scan(CONFIG, attack_path=ATTACK, extra_rules=extra), runs)
    t_new_wi, _ = median_time(lambda: what_if(scan, conv_new), runs)  # re-scored from the first scan's inputs
    print("suggest after the corpus read: old vs new, median s")
    for step, o, n in (("select (extras reads)", t_old_sel, t_new_sel), ("what-if", t_old_wi, t_new_wi),
                       ("select + what-if", t_old_sel + t_old_wi, t_new_sel + t_new_wi)):
        print(f"  {step:<28} old {o:7.2f}  new {n:7.2f}  old/new {o / n:6.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
