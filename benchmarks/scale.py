"""100,000 Sigma rules: `detcov scan` cold and warm, peak RSS, and growth over 1k / 10k / 100k rules.

    .venv/bin/python benchmarks/scale.py [--sizes 1000,10000,100000] [--keep DIR] [--stages] [--ab]
                                         [--baseline OTHER-CHECKOUT [--rounds N]]

The corpus is the shared SigmaHQ rules copied with new ids (benchmarks/synthetic_sigma.py) into a temporary
folder, scanned with the demo bank's inventory and threat profile. Each scan is a fresh process running
`detcov scan CONFIG --out DIR`, as a user would: "cold" has an empty rule cache (the ATT&CK cache is warm, as after
any first run), "warm" is the same scan again. Wall time is what a user waits; CPU is this process and its
parse workers (steady when other jobs share the machine); RSS is the scan process's peak, the largest worker's,
and ("both") the peak of the scan and its workers together at one moment (PSS: the forked parse workers share
pages with the scan), which the memory target is about.
Targets (2-core machine, 100k rules): cold <= 45 s, warm <= 15 s, peak RSS <= 600 MB, linear growth.
``--stages`` adds an in-process breakdown of the warm 100k scan: which step costs what, and the whole output stage
(scoring + outputs, as ``detcov scan`` runs them) with the workbook written in this process vs in a second one
meanwhile, side by side. ``--baseline`` compares another checkout (the code before a change) with this one, cold and
warm, alternated round by round.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from synthetic_sigma import sigma_sources, write_corpus  # noqa: E402

DEMO = REPO / "examples" / "demo-bank"
TARGETS = {"cold": 45.0, "warm": 15.0, "rss": 600.0}
SAMPLE_SECONDS = 0.5  # memory sampled this often: reading PSS walks page tables, and every 0.1 s cost this
# process 20 % of a CPU, taken from the scan it measures (a peak lasts seconds: 0.5 s finds it)

# Runs the CLI in this process and reports its own and its children's resource use as the last stdout line.
DRIVER = """
import json, os, resource, sys, time
from detcov.cli.main import main
if os.environ.get("DETCOV_BENCH_SERIAL_WORKBOOK"):  # --ab: the workbook written in this process, as before
    from detcov.outputs import scan_outputs
    scan_outputs.BACKGROUND_MIN_RULES = sys.maxsize
started = time.perf_counter()
try:
    main(sys.argv[1:])
except SystemExit as exc:
    if exc.code not in (0, 1, None):
        raise
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": time.perf_counter() - started, "cpu": me.ru_utime + me.ru_stime,
                  "cpu_workers": kids.ru_utime + kids.ru_stime, "rss_mb": me.ru_maxrss / 1024,
                  "worker_rss_mb": kids.ru_maxrss / 1024}))
"""


def scan_config(folder: Path, rules: Path) -> Path:
    config = folder / "detcov.yaml"
    config.write_text(f"version: 1\nfile_type: scan\nname: scale benchmark\nattack:\n  version: '18.1'\n"
                      f"inventory: {DEMO / 'inventory.yaml'}\nrules:\n  - path: {rules}\n"
                      f"profiles: [financial-sector]\n", encoding="utf-8")
    return config


def run_scan(config: Path, out: Path, cache: Path, serial: bool = False, code: Path = REPO) -> dict[str, Any]:
    """One ``detcov scan`` in a fresh process, of the detcov checkout ``code`` (its folder first on the path, and
    run from the config's folder: ``python -c`` puts the working folder before everything else). ``together_mb``:
    the most memory the scan and all its worker processes held at one moment (their proportional set sizes, each
    shared page counted once, sampled every :data:`SAMPLE_SECONDS` from /proc; where there is no /proc, the sum of
    their peak RSS, which is larger)."""
    env = {**os.environ, "DETCOV_CACHE_DIR": str(cache), "COLUMNS": "120", "PYTHONPATH": str(code)}
    if serial:
        env["DETCOV_BENCH_SERIAL_WORKBOOK"] = "1"
    with subprocess.Popen([sys.executable, "-c", DRIVER, "scan", str(config), "--out", str(out)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=config.parent) as scan:
        together = [0]
        sampler = threading.Thread(target=_sample_rss, args=(scan, together), daemon=True)
        sampler.start()
        stdout, stderr = scan.communicate()
        sampler.join()
    if scan.returncode != 0:
        raise SystemExit(f"scan failed ({scan.returncode}):\n{stderr[-2000:]}")
    stats: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    stats["together_mb"] = together[0] or stats["rss_mb"] + stats["worker_rss_mb"]
    return stats


def _sample_rss(process: subprocess.Popen[str], peak: list[int]) -> None:
    """The peak of the summed PSS (MB) of ``process`` and its descendants, into ``peak[0]``, until it exits."""
    proc = Path("/proc")
    if not proc.is_dir():
        return

    def rss(pid: int) -> int:
        """PSS where the kernel tells it: forked parse workers share their parent's pages, which RSS would count
        in each process."""
        for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
            try:
                line = next(x for x in (proc / str(pid) / name).read_text().splitlines() if x.startswith(key))
            except (OSError, StopIteration):
                continue
            return int(line.split()[1])
        return 0

    def tree(pid: int) -> list[int]:
        found, todo = [], [pid]
        while todo:
            at = todo.pop()
            found.append(at)
            for task in (proc / str(at) / "task").glob("*/children"):
                try:
                    todo += [int(c) for c in task.read_text().split()]
                except OSError:
                    continue
        return found

    while process.poll() is None:
        peak[0] = max(peak[0], sum(rss(pid) for pid in tree(process.pid)) // 1024)
        time.sleep(SAMPLE_SECONDS)


def warm_attack_cache(cache: Path, code: Path = REPO) -> None:
    """The ATT&CK cache filled by checkout ``code`` (as its scans will read it)."""
    env = {**os.environ, "DETCOV_CACHE_DIR": str(cache), "PYTHONPATH": str(code)}
    subprocess.run([sys.executable, "-c", "from detcov.cli.main import main; main(['attack', 'info'])"], env=env,
                   capture_output=True, check=True, cwd=cache.parent)


def line(label: str, s: dict[str, Any], rules: int, target: float | None = None) -> None:
    cpu = s["cpu"] + s["cpu_workers"]
    verdict = "" if target is None else (" ok" if s["wall"] <= target else f" OVER {target:.0f} s")
    print(f"{label:<14}{rules:>8}{s['wall']:>9.1f}{cpu:>9.1f}{cpu * 1000 / rules:>10.3f}"
          f"{s['rss_mb']:>9.0f}{s['worker_rss_mb']:>10.0f}{s['together_mb']:>9.0f}{verdict}")


def stages(config: Path, out: Path, cache: Path) -> None:
    """Where a warm scan's time goes (in this process; needs the rule cache filled by the runs above)."""
    os.environ["DETCOV_CACHE_DIR"] = str(cache)
    import resource

    from detcov.coverage.engine import run_scan as engine_scan
    from detcov.coverage.kpis import all_tables
    from detcov.outputs import scan_outputs
    from detcov.outputs.excel import write_tables, write_workbook
    from detcov.outputs.views import view_cells
    from detcov.outputs.workbook import scan_tables, workbook_sheets

    steps: list[tuple[str, float, float]] = []

    def timed(name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        value = fn(*args, **kwargs)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        steps.append((name, time.perf_counter() - started, peak))
        return value

    result = timed("run_scan (rules from cache)", engine_scan, config)
    raw = timed("all_tables", all_tables, result)
    tables = timed("scan_tables (paths, order)", scan_tables, result, raw)
    timed("write_tables (CSV + Parquet)", write_tables, out / "tables", tables)
    cells = timed("view_cells", view_cells, result)
    sheets, coloured = workbook_sheets(result, tables, cells, {})
    timed(f"write_workbook ({len(sheets['rules'])} rule rows)", write_workbook, out / "coverage.xlsx", sheets,
          score_columns=scan_outputs.SCORE_COLUMNS, coloured_rows=coloured)
    timed("write_layers (7 Navigator layers)", scan_outputs.write_layers, result, cells, out)
    timed("write_heatmaps (heatmaps.html)", scan_outputs.write_heatmaps, result, cells, out)
    timed("summary.json", scan_outputs.write_summary, result.summary, out)
    total = sum(t for _, t, _ in steps)
    print(f"\nwarm scan of {len(result.ruleset.rules)} rules, in-process breakdown (wall s, share, peak RSS so far):")
    for name, t, peak in steps:
        print(f"  {name:<36}{t:>8.1f}{t / total:>8.0%}{peak:>8.0f} MB")
    started = time.perf_counter()
    sent = len(pickle.dumps((sheets, coloured), protocol=pickle.HIGHEST_PROTOCOL))
    print(f"  the workbook's sheets pickled for the worker: {sent / 1e6:.0f} MB in "
          f"{time.perf_counter() - started:.2f} s")
    output_stage(config, out / "stage", runs=3)


def output_stage(config: Path, out: Path, runs: int) -> None:
    """Scoring and outputs as ``detcov scan`` does them (``read_scan``, then the outputs started, ``score_scan``,
    the outputs finished) with the workbook in this process ("serial") and in a second process meanwhile
    ("background"), alternated ``runs`` times (the machine is shared: neighbours' load hits both alike)."""
    import resource

    from detcov.coverage.engine import read_scan, score_scan
    from detcov.outputs.scan_outputs import scan_outputs, workbook_worker

    def cpu() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    read = read_scan(config)
    times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for _ in range(runs):
        for background in (False, True):
            wall, used = time.perf_counter(), cpu()
            with workbook_worker(len(read.ruleset.rules), background) as worker, \
                    scan_outputs(out, worker) as outputs:
                outputs.start(read)
                outputs.finish(score_scan(read))
            times[background].append((time.perf_counter() - wall, cpu() - used))
    serial, bg = (min(times[b]) for b in (False, True))
    print(f"\nscoring + outputs (score_scan, write the outputs), best of {runs}, load {os.getloadavg()[0]:.1f}:"
          f"\n  {'':<34}{'wall s':>8}{'cpu s':>8}\n  {'serial (workbook here)':<34}{serial[0]:>8.1f}{serial[1]:>8.1f}"
          f"\n  {'background workbook (2 processes)':<34}{bg[0]:>8.1f}{bg[1]:>8.1f}"
          f"\n  background / serial: wall {bg[0] / serial[0]:.2f}x, cpu {bg[1] / serial[1]:.2f}x "
          f"(all runs, wall: serial {', '.join(f'{w:.1f}' for w, _ in times[False])}; "
          f"background {', '.join(f'{w:.1f}' for w, _ in times[True])})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--keep", type=Path, help="Keep the corpora and outputs in this folder.")
    parser.add_argument("--stages", action="store_true", help="In-process breakdown of the largest warm scan.")
    parser.add_argument("--ab", action="store_true", help="The largest size's cold and warm scans also with the "
                        "workbook written serially (as before the background writer), alternated, side by side.")
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT", help="Another detcov checkout (e.g. `git "
                        "worktree add ../base main~5`): the largest size's cold and warm scans alternated between it "
                        "and this one, --rounds times, medians side by side.")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds of --baseline (default 3).")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    root = args.keep or Path(tempfile.mkdtemp(prefix="detcov-scale-"))
    sources = sigma_sources()
    print(f"{len(sources)} SigmaHQ rules copied with new ids; {os.cpu_count()} CPUs; load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'run':<14}{'rules':>8}{'wall s':>9}{'cpu s':>9}{'cpu ms/r':>10}{'rss MB':>9}{'worker MB':>10}"
          f"{'both MB':>9}")
    results: dict[int, dict[str, dict[str, Any]]] = {}
    try:
        for n in sizes:
            corpus = root / f"sigma-{n}"
            if not corpus.is_dir():
                write_corpus(corpus, n, sources)
            cache = root / f"cache-{n}"
            shutil.rmtree(cache, ignore_errors=True)
            warm_attack_cache(cache)
            config = scan_config(root, corpus)
            big = n == max(sizes)
            cold = run_scan(config, root / f"out-{n}", cache)
            line("cold", cold, n, TARGETS["cold"] if big else None)
            warm = run_scan(config, root / f"out-{n}", cache)
            line("warm", warm, n, TARGETS["warm"] if big else None)
            results[n] = {"cold": cold, "warm": warm}
        summary(results, sizes)
        if args.ab:
            background_ab(scan_config(root, root / f"sigma-{max(sizes)}"), root, max(sizes))
        if args.baseline:
            baseline_ab(scan_config(root, root / f"sigma-{max(sizes)}"), root, max(sizes), args.baseline.resolve(),
                        args.rounds)
        if args.stages:
            stages(scan_config(root, root / f"sigma-{max(sizes)}"), root / "stages-out", root / f"cache-{max(sizes)}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


def background_ab(config: Path, root: Path, n: int) -> None:
    """Cold and warm scans, the workbook written serially ("serial") and in a second process ("background"),
    alternated so that the machine's other load hits both alike."""
    cache, out = root / f"cache-{n}", root / f"out-{n}"
    runs: dict[str, list[dict[str, Any]]] = {}
    for kind in ("cold", "warm"):
        for serial in (True, False, True, False):
            if kind == "cold":
                shutil.rmtree(cache, ignore_errors=True)
                warm_attack_cache(cache)
            label = f"{kind} {'serial' if serial else 'background'}"
            runs.setdefault(label, []).append(run_scan(config, out, cache, serial=serial))
            line(label, runs[label][-1], n)
    for kind in ("cold", "warm"):
        serial, bg = (min(r["wall"] for r in runs[f"{kind} {m}"]) for m in ("serial", "background"))
        print(f"{kind}: serial workbook {serial:.1f} s, background workbook {bg:.1f} s (best of 2 each): "
              f"background / serial = {bg / serial:.2f}x; {TARGETS[kind]:.0f} s target: {bg / TARGETS[kind]:.2f}x")


def baseline_ab(config: Path, root: Path, n: int, baseline: Path, rounds: int) -> None:
    """Cold and warm scans of another checkout and of this one, alternated (this machine's speed drifts by the hour:
    only runs side by side compare), each with its own caches; medians of wall time, CPU and peak RSS."""
    import statistics

    if not (baseline / "detcov" / "__init__.py").is_file():
        raise SystemExit(f"--baseline {baseline}: not a detcov checkout (no detcov/__init__.py)")
    codes = {"baseline": baseline, "this": REPO}
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _ in range(rounds):
        for name, code in codes.items():
            cache, out = root / f"cache-{n}-{name}", root / f"out-{n}-{name}"
            shutil.rmtree(cache, ignore_errors=True)
            warm_attack_cache(cache, code)
            for kind in ("cold", "warm"):
                runs.setdefault((kind, name), []).append(run_scan(config, out, cache, code=code))
                line(f"{kind} {name}", runs[(kind, name)][-1], n)
    print(f"\n{n} rules, {baseline} vs this checkout, medians of {rounds} alternated rounds:")
    for kind in ("cold", "warm"):
        def median(name: str, key: str, kind: str = kind) -> float:
            return float(statistics.median(r[key] for r in runs[(kind, name)]))
        base, this = median("baseline", "wall"), median("this", "wall")
        print(f"  {kind}: wall {base:.1f} -> {this:.1f} s ({this / base:.2f}x); scan process CPU "
              f"{median('baseline', 'cpu'):.1f} -> {median('this', 'cpu'):.1f} s; peak RSS of the scan process "
              f"{median('baseline', 'rss_mb'):.0f} -> {median('this', 'rss_mb'):.0f} MB, with its workers "
              f"{median('baseline', 'together_mb'):.0f} -> {median('this', 'together_mb'):.0f} MB")


def summary(results: dict[int, dict[str, dict[str, Any]]], sizes: list[int]) -> None:
    big = max(sizes)
    r = results[big]
    peak = max(r["cold"]["together_mb"], r["warm"]["together_mb"])  # the scan and its workers, at one moment
    print(f"\n{big} rules: cold {r['cold']['wall']:.1f} s / {TARGETS['cold']:.0f} s target = "
          f"{r['cold']['wall'] / TARGETS['cold']:.2f}x; warm {r['warm']['wall']:.1f} s / {TARGETS['warm']:.0f} s = "
          f"{r['warm']['wall'] / TARGETS['warm']:.2f}x; peak RSS {peak:.0f} MB / {TARGETS['rss']:.0f} MB = "
          f"{peak / TARGETS['rss']:.2f}x; cold / warm = {r['cold']['wall'] / r['warm']['wall']:.1f}x")
    if len(sizes) > 1:
        small = min(sizes)
        for kind in ("cold", "warm"):
            per = [(results[n][kind]["cpu"] + results[n][kind]["cpu_workers"]) / n for n in sizes]
            print(f"growth ({kind}): CPU per rule at {', '.join(f'{n:,}' for n in sizes)} = "
                  f"{', '.join(f'{p * 1000:.3f}' for p in per)} ms; {big:,} vs {small:,}: "
                  f"{per[-1] / per[0]:.2f}x per rule (1.00x = linear)")


if __name__ == "__main__":
    main()
