"""The output stage of a 100,000-rule scan: write_tables (CSV + Parquet) and write_workbook (coverage.xlsx),
old writers vs new, time and peak RSS per step, side by side.

    .venv/bin/python benchmarks/outputs_scale.py [--rules 100000] [--base 3000] [--old-ref fae72dc] [--skip-old]

The tables come from a real scan of ``--base`` synthetic Sigma rules (benchmarks/synthetic_sigma.py) with the
demo bank's inventory; the rules table is then repeated, with new ids and paths, up to ``--rules`` rows (what
a scan of that many rules writes; the other tables do not grow with the rule count). Each step runs in a fresh
process that first loads the tables (from Parquet) and then writes them: wall time of the write, and the peak
RSS above the loaded tables. "old" is the writers of ``--old-ref`` (git), loaded beside the new ones.
The whole scan's target is warm <= 15 s and peak RSS <= 600 MB (issue 14): the last columns give each step's
share of those budgets.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

WARM_TARGET_S, RSS_TARGET_MB = 15.0, 600.0
STEPS = ("write_tables", "write_workbook")


def old_writers(ref: str) -> types.ModuleType:
    """detcov/outputs/excel.py of ``ref``, with that commit's CSV writer, as a module."""
    def source(path: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), "show", f"{ref}:{path}"], capture_output=True, text=True,
                              check=True).stdout

    csvsafe = types.ModuleType("old_csvsafe")
    exec(compile(source("detcov/csvsafe.py"), "old_csvsafe", "exec"), csvsafe.__dict__)
    excel = types.ModuleType("old_excel")
    code = source("detcov/outputs/excel.py").replace("from detcov.csvsafe import", "from old_csvsafe import")
    sys.modules["old_csvsafe"] = csvsafe
    exec(compile(code, "old_excel", "exec"), excel.__dict__)
    return excel


def build_tables(rules: int, base: int, folder: Path) -> dict[str, Any]:
    """Scan ``base`` synthetic rules, repeat the rules table to ``rules`` rows, store every table as Parquet."""
    os.environ.setdefault("DETCOV_CACHE_DIR", str(folder / "cache"))
    import pandas as pd
    from scale import scan_config
    from synthetic_sigma import write_corpus

    from detcov.coverage.engine import run_scan
    from detcov.coverage.kpis import all_tables
    from detcov.outputs.workbook import scan_tables

    write_corpus(folder / "corpus", base)
    result = run_scan(scan_config(folder, folder / "corpus"))
    started = time.perf_counter()
    tables = scan_tables(result, all_tables(result, rules=False))
    seconds = time.perf_counter() - started
    one = tables["rules"]
    copies = [one.assign(rule_id=one["rule_id"] + f"-{k}", path=one["path"].str.replace(
        "/corpus/", f"/corpus-{k}/", regex=False)) for k in range(-(-rules // len(one)))]
    tables["rules"] = pd.concat(copies, ignore_index=True).iloc[:rules]
    (folder / "tables").mkdir(exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(folder / "tables" / f"{name}.parquet", index=False)
    return {"all_tables_s": seconds, "base_rules": len(one),
            "per_group_chars": float(tables["rules"]["per_group"].str.len().mean())}


def status_mb(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` (peak) of this process from /proc, in MB."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def run_step(folder: Path, step: str, impl: str, ref: str) -> dict[str, float]:
    """One write, in this (fresh) process: wall and CPU s, peak RSS (MB) and the peak above the loaded tables
    (the peak is reset after loading, through /proc/self/clear_refs)."""
    import pandas as pd
    import pyarrow as pa

    from detcov.outputs import excel, scan_outputs

    module = old_writers(ref) if impl == "old" else excel
    names = ("techniques", "cells", "rules", "devices", "gaps", "recommendations")
    tables = {n: pd.read_parquet(folder / "tables" / f"{n}.parquet") for n in names}
    pa.default_memory_pool().release_unused()
    Path("/proc/self/clear_refs").write_text("5")
    before = status_mb("VmRSS")
    out = folder / f"out-{impl}"
    started, cpu = time.perf_counter(), time.process_time()
    if step == "write_tables":
        module.write_tables(out / "tables", tables)
    else:
        module.write_workbook(out / "coverage.xlsx", tables, score_columns=scan_outputs.SCORE_COLUMNS)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = status_mb("VmHWM")
    return {"s": seconds, "cpu": cpu, "rss_mb": peak, "extra_mb": peak - before}


def measure(folder: Path, step: str, impl: str, ref: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--step", step, "--impl", impl, "--folder", str(folder),
                           "--old-ref", ref], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{impl} {step} failed:\n{done.stderr[-2000:]}")
    stats: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=100_000)
    parser.add_argument("--base", type=int, default=3000, help="Rules really scanned (the rest are repeats).")
    parser.add_argument("--old-ref", default="fae72dc", help="The git commit of the old writers.")
    parser.add_argument("--skip-old", action="store_true")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--impl", choices=("old", "new"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(run_step(args.folder, args.step, args.impl, args.old_ref)))
        return
    with tempfile.TemporaryDirectory(prefix="detcov-outputs-scale-") as tmp:
        folder = Path(tmp)
        info = build_tables(args.rules, args.base, folder)
        print(f"{args.rules:,} rules rows ({info['base_rules']:,} scanned, repeated), per_group "
              f"{info['per_group_chars']:.0f} chars on average; all_tables at {info['base_rules']:,} rules "
              f"{info['all_tables_s']:.1f} s; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        print(f"{'step':<16}{'old s':>8}{'new s':>8}{'old cpu':>9}{'new cpu':>9}{'new/old':>9}{'old +MB':>9}"
              f"{'new +MB':>9}{'new s/15 s':>12}{'new MB/600':>12}")
        for step in STEPS:
            new = measure(folder, step, "new", args.old_ref)
            old = None if args.skip_old else measure(folder, step, "old", args.old_ref)
            print(f"{step:<16}{cell(old, 's', 8, 1)}{new['s']:8.1f}{cell(old, 'cpu', 9, 1)}{new['cpu']:9.1f}"
                  f"{cell(old and {'r': new['cpu'] / old['cpu']}, 'r', 8, 2)}x{cell(old, 'extra_mb', 9, 0)}"
                  f"{new['extra_mb']:9.0f}{new['s'] / WARM_TARGET_S:11.2f}x{new['rss_mb'] / RSS_TARGET_MB:11.2f}x")
        print("wall s is what a user waits (other jobs on the machine stretch it); new/old is the CPU ratio; "
              "+MB is peak RSS above the loaded tables")


def cell(stats: dict[str, float] | None, key: str, width: int, digits: int) -> str:
    return f"{stats[key]:{width}.{digits}f}" if stats else f"{'-':>{width}}"

if __name__ == "__main__":
    main()
