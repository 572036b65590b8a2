"""Output writers benchmark: layer build/validate, heatmap figure/HTML, workbook, PNG paths, side by side.

    .venv/bin/python benchmarks/outputs.py [--bundle PATH] [--runs 3] [--skip-chromium]

All cells cover every active technique of the bundle (scores derived from the ids). In-process steps are CPU
time; the Chromium steps are wall time (the work happens in the browser process). Ratios are to build_layer
(in-process) and to the plain Chromium screenshot (browser steps).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from detcov.attack.sources import load_attack  # noqa: E402
from detcov.outputs import chromium, excel, heatmap, navigator  # noqa: E402
from detcov.outputs.navigator import TechniqueCell, View  # noqa: E402


def measure(fn: Callable[[], object], runs: int, clock: Callable[[], float] = time.process_time) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle", default=str(REPO.parent / "shared/attack/enterprise-attack-18.1.json"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-chromium", action="store_true")
    args = parser.parse_args()
    runs, kb, det = args.runs, load_attack(args.bundle), View.DETECTION
    cells = {t.id: TechniqueCell(t.id, int(t.id[1:5]) % 7 - 1, comment=f"{t.name} derived",
                                 metadata=(("id", t.id),)) for t in kb.techniques()}
    layer = navigator.build_layer(kb, det, cells, name="bench", description="")
    fig = heatmap.matrix_figure(kb, cells, det, title="bench")
    frame = pd.DataFrame([{"technique": c.technique, "score": c.score, "comment": c.comment}
                          for c in cells.values()])
    tmp = Path(tempfile.mkdtemp(prefix="detcov-bench-"))
    page = heatmap.write_html(tmp / "page.html", [("d", fig)], title="bench")
    steps: dict[str, float] = {
        "build_layer": measure(lambda: navigator.build_layer(kb, det, cells, name="b", description=""), runs),
        "validate_layer (scan writer: ours)": measure(lambda: navigator.validate_layer(layer, kb), runs),
        "validate_layer (oracle=True: + mitreattack)": measure(
            lambda: navigator.validate_layer(layer, kb, oracle=True), runs),
        "  of which mitreattack round trip": measure(
            lambda: navigator._check_mitreattack(layer, navigator._Checker("x")), runs),
        "matrix_figure": measure(lambda: heatmap.matrix_figure(kb, cells, det, title="b"), runs),
        "write_html (plotly.js inline)": measure(
            lambda: heatmap.write_html(tmp / "h.html", [("d", fig)], title="b"), runs),
        "write_workbook (1 sheet)": measure(
            lambda: excel.write_workbook(tmp / "c.xlsx", {"T": frame}, score_columns={"score": (-1, 5)}),
            runs),
        "write_tables (csv+parquet)": measure(lambda: excel.write_tables(tmp / "t", {"T": frame}), runs),
    }
    base = steps["build_layer"]
    print(f"{len(cells)} techniques, {len(layer['techniques'])} layer entries; CPU s, median of {runs}")
    for name, value in steps.items():
        print(f"{name:44s} {value:8.4f} s  {value / base:8.1f}x build_layer")
    compare_workbooks(frame, tmp, runs)
    if args.skip_chromium or chromium.find_chromium() is None:
        print("chromium steps skipped")
        return
    wall = time.perf_counter
    browser = {
        "chromium screenshot": measure(
            lambda: chromium.screenshot(page, tmp / "s.png", 1600, 1000), runs, wall),
        "chromium dump_dom": measure(lambda: chromium.dump_dom(page), runs, wall),
        "chromium print_pdf": measure(lambda: chromium.print_pdf(page, tmp / "p.pdf"), runs, wall),
        "write_png (offline screenshot)": measure(lambda: heatmap.write_png(fig, tmp / "k.png"), runs, wall),
    }
    shot = browser["chromium screenshot"]
    print("browser steps, wall s")
    for name, value in browser.items():
        print(f"{name:40s} {value:8.2f} s  {value / shot:8.2f}x screenshot")


def pandas_workbook(path: Path, frame: pd.DataFrame) -> None:
    """The former writer: pandas ``to_excel`` (cell by cell through openpyxl-style cell objects) + formatting."""
    options = {"options": {"strings_to_formulas": False, "strings_to_urls": False}}
    with pd.ExcelWriter(path, engine="xlsxwriter", engine_kwargs=options) as writer:
        flat = excel.flatten(frame)
        flat.to_excel(writer, sheet_name="T", index=False)
        ws = writer.sheets["T"]
        for c, name in enumerate(flat.columns):
            ws.set_column(c, c, excel.column_width(str(name), flat[name]))
        ws.conditional_format(1, 1, len(flat), 1, excel._score_format(-1, 5))


def compare_workbooks(frame: pd.DataFrame, tmp: Path, runs: int) -> None:
    """coverage.xlsx, old (pandas to_excel) vs new (row by row, constant_memory), at 1x and 20x the rows."""
    print("workbook: wall s, median; old = pandas to_excel, new = xlsxwriter rows in constant_memory mode")
    for factor in (1, 20):
        big = pd.concat([frame] * factor, ignore_index=True)
        old = measure(lambda: pandas_workbook(tmp / "old.xlsx", big), runs, time.perf_counter)  # noqa: B023
        new = measure(lambda: excel.write_workbook(tmp / "new.xlsx", {"T": big},  # noqa: B023
                                                   score_columns={"score": (-1, 5)}), runs, time.perf_counter)
        print(f"  {len(big):6d} rows  old {old:7.3f} s  new {new:7.3f} s  new/old {new / old:5.2f}x")


if __name__ == "__main__":
    main()
