"""The full coverage scan vs the ATT&CK warm load: demo bank, the shared rule corpora, and 1×/10×/100× rules.

    .venv/bin/python benchmarks/scan.py [--runs 3] [--bundle PATH] [--skip-corpora]

Every row is the median of ``--runs`` runs with a warm ATT&CK cache: wall time, and CPU time of this process (steady
when other jobs share the machine; nothing here runs in a subprocess without PNG). Ratios to the warm ATT&CK load are
given for both; the scaling table compares CPU times. "scan + outputs" is ``run_scan`` then ``write_scan_outputs``
(summary, tables, workbook, layers, heatmaps.html; no PNG). The corpora rows scan the demo inventory against
SigmaHQ + Elastic + Splunk ESCU from ``../shared/rules-corpora``; reading the rules dominates, so its time alone is
printed first. Scaling: the demo's rules replicated with new ids as ``extra_rules``; linear growth shows as a flat
or falling CPU time per rule, and a steady (or falling) time per rule added from one scale to the next.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from detcov.attack.sources import load_attack  # noqa: E402
from detcov.coverage.engine import ScanResult, run_scan  # noqa: E402
from detcov.outputs.scan_outputs import write_scan_outputs  # noqa: E402
from detcov.rules import Rule, read_rules  # noqa: E402

SHARED = Path(os.environ.get("DETCOV_SHARED", REPO.parent / "shared"))
DEMO = REPO / "examples" / "demo-bank"
CORPORA = ("sigma/rules", "elastic/rules", "splunk/detections")  # rule folders only (not splunk/data_sources)
SCALES = (1, 10, 100)


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float


def measure(fn: Callable[[], Any], runs: int) -> tuple[Timing, Any]:
    """Median wall and CPU seconds of ``runs`` calls, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return Timing(statistics.median(walls), statistics.median(cpus)), result


def scan_and_write(config: Path, bundle: Path, out: Path, extra: Sequence[Rule] = ()) -> ScanResult:
    result = run_scan(config, attack_path=bundle, extra_rules=extra)
    write_scan_outputs(result, out, png=False)
    return result


def corpora_config(folder: Path) -> Path:
    """A scan config beside the demo: its inventory, threat profile and scores, the shared corpora as rules."""
    rules = "\n".join(f"  - path: {SHARED / 'rules-corpora' / sub}" for sub in CORPORA)
    config = folder / "detcov.yaml"
    config.write_text(f"version: 1\nfile_type: scan\nname: corpora benchmark\nattack:\n  version: '18.1'\n"
                      f"inventory: {DEMO / 'inventory.yaml'}\nrules:\n{rules}\n", encoding="utf-8")
    return config


def replicas(rules: Sequence[Rule], copies: int) -> list[Rule]:
    """``copies`` more copies of every rule, each with a new id (what-if rules assumed deployed)."""
    return [replace(r, id=f"{r.id}~synthetic-{k}") for k in range(1, copies + 1) for r in rules]


def row(name: str, t: Timing, load: Timing, note: str = "") -> None:
    ratios = f"{t.wall / load.wall:>9.1f}x{t.cpu / load.cpu:>8.1f}x"
    print(f"{name:<36}{t.wall * 1000:>9.0f}{t.cpu * 1000:>9.0f}{ratios}  {note}")


def scaling(bundle: Path, out: Path, load: Timing, runs: int) -> None:
    config = DEMO / "detcov.yaml"
    base_rules = run_scan(config, attack_path=bundle).ruleset.rules
    print(f"\nscaling: the {len(base_rules)} demo rules replicated (scan + outputs); "
          "step = CPU added per rule added since the previous scale")
    print(f"{'scale':<6}{'rules':>6}{'wall ms':>9}{'cpu ms':>9}{'cpu/load':>9}{'cpu/1×':>8}{'rules/1×':>9}"
          f"{'cpu ms/rule':>12}{'step ms/rule':>13}")
    first: tuple[float, int] | None = None
    previous: tuple[float, int] | None = None
    for scale in SCALES:
        extra = replicas(base_rules, scale - 1)
        t, result = measure(partial(scan_and_write, config, bundle, out / f"x{scale}", extra), runs)
        n = len(result.ruleset.rules)
        first = first or (t.cpu, n)
        step = f"{(t.cpu - previous[0]) * 1000 / (n - previous[1]):.3f}" if previous else "-"
        previous = (t.cpu, n)
        print(f"{f'{scale}×':<6}{n:>6}{t.wall * 1000:>9.0f}{t.cpu * 1000:>9.0f}{t.cpu / load.cpu:>8.1f}x"
              f"{t.cpu / first[0]:>7.2f}x{n / first[1]:>8.0f}x{t.cpu * 1000 / n:>12.2f}{step:>13}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bundle", type=Path, default=SHARED / "attack" / "enterprise-attack-18.1.json")
    parser.add_argument("--skip-corpora", action="store_true")
    args = parser.parse_args()
    bundle, runs = args.bundle, args.runs
    load_attack(bundle)  # warm the normalised cache: every row below starts from it
    load, kb = measure(lambda: load_attack(bundle), max(runs, 5))
    with tempfile.TemporaryDirectory(prefix="detcov-bench-") as tmp:
        out = Path(tmp)
        config = DEMO / "detcov.yaml"
        print(f"ATT&CK {kb.version}, {len(kb.techniques())} techniques; "
              f"medians of {runs} runs (corpora: {max(1, runs - 1)})")
        print(f"{'step':<36}{'wall ms':>9}{'cpu ms':>9}{'wall/load':>10}{'cpu/load':>9}")
        row("ATT&CK load (warm cache)", load, load)
        t_scan, result = measure(lambda: run_scan(config, attack_path=bundle), runs)
        row("demo scan: run_scan", t_scan, load, f"{len(result.ruleset.rules)} rules, {len(result.gaps)} gaps")
        t_out, _ = measure(lambda: write_scan_outputs(result, out / "demo-out"), runs)
        row("demo: write_scan_outputs (no PNG)", t_out, load)
        t_full, _ = measure(lambda: scan_and_write(config, bundle, out / "demo-full"), runs)
        row("demo: scan + outputs", t_full, load)
        if not args.skip_corpora:
            corpora(bundle, out, load, max(1, runs - 1), kb)
        scaling(bundle, out, load, runs)


def corpora(bundle: Path, out: Path, load: Timing, runs: int, kb: Any) -> None:
    roots = [SHARED / "rules-corpora" / sub for sub in CORPORA]
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        print(f"(corpora skipped: missing {', '.join(missing)})")
        return
    config = corpora_config(out)
    t_read, ruleset = measure(lambda: read_rules(roots, kb), runs)
    t_full, result = measure(lambda: scan_and_write(config, bundle, out / "corpora-out"), runs)
    healthy = sum(h.healthy for h in result.healths)
    row("corpora: read_rules only", t_read, load, f"{len(ruleset.rules)} rules from {len(ruleset.files)} files")
    row("corpora: scan + outputs", t_full, load,
        f"{healthy} healthy; detection {result.summary.kpis.detection.percent} % of "
        f"{result.summary.kpis.detection.total}; reading = {t_read.cpu / t_full.cpu:.0%} of its CPU")


if __name__ == "__main__":
    main()
