"""How fast every command answers: `detcov --help`, each `detcov COMMAND --help`, and `detcov attack info` warm.

    .venv/bin/python benchmarks/cli_startup.py [--runs 7]

Each row is a fresh process (as a user types it), the median of ``--runs``: wall time and CPU time (user + system
of the process, steady when other jobs share the machine), each with its ratio to a baseline process run just
before it. `--help` rows compare with a bare `python -c pass`; target <= 0.25 s wall. `attack info` (warm
normalised cache) compares with a bare `python -c "import orjson; orjson.loads(open(B, 'rb').read())"` on the same
ATT&CK bundle; target <= 1.0x. Both the bundle shipped with detcov and a plain .json bundle are measured.
"""

from __future__ import annotations

import argparse
import lzma
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from detcov.attack.embedded import embedded_bundle  # noqa: E402
from detcov.cli.main import LAZY_COMMANDS  # noqa: E402

DETCOV = [sys.executable, "-c", "import sys; from detcov.cli.main import main; main(sys.argv[1:])"]
HELP_TARGET = 0.25


def measure(argv: list[str], runs: int, env: dict[str, str]) -> tuple[float, float]:
    """Median (wall, cpu) seconds of ``runs`` fresh processes."""
    walls, cpus = [], []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - started)
        cpus.append(usage.ru_utime + usage.ru_stime)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(argv)} failed")
    return statistics.median(walls), statistics.median(cpus)


def row(name: str, t: tuple[float, float], base: tuple[float, float], target: str = "") -> None:
    print(f"{name:<40}{t[0] * 1000:>8.0f}{t[1] * 1000:>8.0f}{t[0] / base[0]:>9.2f}x{t[1] / base[1]:>8.2f}x  {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    runs = args.runs
    shipped = embedded_bundle()
    if shipped is None:
        raise SystemExit("the package has no shipped ATT&CK bundle")
    with tempfile.TemporaryDirectory(prefix="detcov-startup-") as tmp:
        plain = Path(tmp) / "enterprise-attack-18.1.json"
        plain.write_bytes(lzma.decompress(shipped.path.read_bytes()))
        empty = Path(tmp) / "no-bundles"
        empty.mkdir()
        env = {**os.environ, "DETCOV_CACHE_DIR": str(Path(tmp) / "cache"), "DETCOV_ATTACK_DATA": str(empty),
               "COLUMNS": "100"}
        print(f"fresh processes, medians of {runs}; load average {os.getloadavg()[0]:.1f}")
        print(f"{'command':<40}{'wall ms':>8}{'cpu ms':>8}{'wall/base':>10}{'cpu/base':>9}")
        bare = measure([sys.executable, "-c", "pass"], runs, env)
        row("python -c pass (baseline)", bare, bare)
        for args_ in (["--help"], *([name, "--help"] for name in LAZY_COMMANDS)):
            t = measure([*DETCOV, *args_], runs, env)
            row(f"detcov {' '.join(args_)}", t, bare, "ok" if t[0] <= HELP_TARGET else f"OVER {HELP_TARGET} s")
        code = f"import orjson; orjson.loads(open({str(plain)!r}, 'rb').read())"
        orjson_t = measure([sys.executable, "-c", code], runs, env)
        print()
        row("python -c orjson.loads(bundle) (baseline)", orjson_t, orjson_t)
        for label, extra in (("detcov attack info (shipped, warm)", []),
                             ("detcov attack info --attack B (warm)", ["--attack", str(plain)])):
            measure([*DETCOV, "attack", "info", *extra], 1, env)  # fills the normalised cache
            t = measure([*DETCOV, "attack", "info", *extra], runs, env)
            row(label, t, orjson_t, "ok" if t[0] <= orjson_t[0] else "OVER 1.0x")


if __name__ == "__main__":
    main()
