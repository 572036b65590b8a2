"""Write every output of a scan into one folder (the contract the history store and the report read).

OUT/summary.json, OUT/tables/{techniques,rules,devices,gaps,recommendations}.{csv,parquet}, OUT/coverage.xlsx,
OUT/layers/<view>.json (ATT&CK Navigator 4.5), OUT/heatmaps.html (+ OUT/heatmaps/<view>.png with ``png=True``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, ParamSpec

import orjson
import pandas as pd

from detcov.coverage.engine import ScanResult
from detcov.coverage.kpis import all_tables
from detcov.coverage.summary import ROLLUP_RULE, Summary
from detcov.errors import DetcovError, Issue
from detcov.fileio import atomic_write, staged_folder
from detcov.outputs.background import Pending, Worker, output_worker
from detcov.outputs.excel import (
    add_rows,
    add_sheet,
    begin_table,
    begin_workbook,
    drop_output,
    end_table,
    end_workbook,
    file_stem,
    table_paths,
    write_tables,
)
from detcov.outputs.heatmap import matrix_json, write_html, write_png
from detcov.outputs.navigator import TechniqueCell, View, build_layer, validate_layer, write_layer
from detcov.outputs.portable import PathNamer, scan_namer
from detcov.outputs.views import VIEW_TITLES, critical_groups, group_cells, view_cells
from detcov.outputs.workbook import (
    SHEETS,
    cut_note,
    cuts_rules_sheet,
    needs_work,
    rules_output,
    rules_output_parts,
    scan_tables,
    workbook_sheets,
)
from detcov.workers import process_budget

SCORE_COLUMNS = {"visibility": (0.0, 4.0), "detection": (-1.0, 5.0), "prevention": (0.0, 3.0)}
# From this many rules a second process writes the workbook. The process costs about 1 s of CPU (interpreter,
# pandas, xlsxwriter) and ~0.01 s here to send the sheets (out of band); it gains the workbook's time, ~15 us a
# cell, overlapped. Measured on the 2-core machine (wall s, serial -> background): 64 rules (the demo, ~90k cells,
# 1 s workbook) 2.1-3.4 -> 1.7-2.3, a gain no larger than the extra CPU, which parallel tests and CI take from
# each other; 5,000 rules (~160k cells) 3.2-5.4 -> 2.5-4.5; 20,000 8.3-11.8 -> 6.8-10.5; 100,000 (24,251 rule
# rows, 430k cells) 11-16 -> 8-12. From 5,000 rules the workbook takes 2 s or more, twice the CPU it adds.
BACKGROUND_MIN_RULES = 5_000
P = ParamSpec("P")


def write_layers(result: ScanResult, cells: Mapping[View, Mapping[str, TechniqueCell]], out: Path) -> list[Issue]:
    issues: list[Issue] = []
    name = result.config.name
    for view, view_cells_ in cells.items():
        layer = build_layer(result.kb, view, view_cells_, name=f"{name} — {view.value}",
                            description=f"{VIEW_TITLES[view]} detcov scan; roll-up: {ROLLUP_RULE}")
        path = out / "layers" / f"{view.value}.json"
        issues += validate_layer(layer, result.kb, source=f"layers/{view.value}.json")
        write_layer(path, layer)
    return issues


def write_group_layers(result: ScanResult, out: Path, groups: Sequence[str]) -> list[Path]:
    """``layers/groups/<group>/<view>.json`` for each named system group ("critical": every group with
    criticality ≥ 4)."""
    names = [n for g in groups for n in (critical_groups(result) if g == "critical" else [g])]
    written = []
    for group in dict.fromkeys(names):
        for view, cells in group_cells(result, group).items():
            layer = build_layer(result.kb, view, cells, name=f"{result.config.name} — {group} — {view.value}",
                                description=f"{VIEW_TITLES[view]} System group {group} only.")
            written.append(write_layer(out / "layers" / "groups" / file_stem(group) / f"{view.value}.json", layer))
    return written


def write_heatmaps(result: ScanResult, cells: Mapping[View, Mapping[str, TechniqueCell]], out: Path, *,
                   png: bool = False) -> Path:
    figures = [(VIEW_TITLES[v], matrix_json(result.kb, c, v, title=VIEW_TITLES[v])) for v, c in cells.items()]
    path = write_html(out / "heatmaps.html", figures, title=f"{result.config.name} — ATT&CK coverage")
    if png:
        for (view, _), (_, fig) in zip(cells.items(), figures, strict=True):
            write_png(fig, out / "heatmaps" / f"{view.value}.png")
    return path


def write_summary(summary: Summary, out: Path, namer: PathNamer | None = None) -> Path:
    path = out / "summary.json"
    doc = summary.model_dump(mode="json")
    atomic_write(path, orjson.dumps(namer.value(doc) if namer else doc, option=orjson.OPT_INDENT_2))
    return path


def background_workbook(rules: int) -> bool:
    """Write the workbook in a second process? Only when it is big enough to pay for one (see
    :data:`BACKGROUND_MIN_RULES`) and a second CPU may be used (:func:`detcov.workers.process_budget`)."""
    return rules >= BACKGROUND_MIN_RULES and process_budget() > 1


class ScanOutputs:
    """One scan's outputs being written into a staging folder (see :func:`scan_outputs`): :meth:`start` with the
    read result (rules judged, not yet scored) sends the rules to the worker (the workbook's big rules sheet and,
    for a big scan, the CSV and Parquet of every rule), which writes them while this process scores;
    :meth:`finish` with the scored result writes everything else."""

    def __init__(self, stage: Path, worker: Worker) -> None:
        self.stage, self._worker = stage, worker
        self.workbook = stage / "coverage.xlsx"
        self.opened = [self.workbook]  # what the worker may hold open (dropped on an error in this process)
        self._rules: tuple[pd.DataFrame | None, pd.DataFrame, str] | None = None  # (table, sheet, note)
        self._pending: list[Pending[Any]] = []

    def start(self, read: ScanResult) -> None:
        """The workbook begun with its rules sheet (from the judged rules of ``read``: no score needed), which the
        worker writes while this process scores. Above :data:`~detcov.outputs.workbook.WORKBOOK_ALL_RULES` rules,
        every rule's row is made here 5,000 at a time and sent on for ``tables/rules.{csv,parquet}``; the sheet
        keeps those that need work."""
        self._submit(begin_workbook, self.workbook, SHEETS, score_columns=SCORE_COLUMNS)
        total = len(read.healths)
        if not cuts_rules_sheet(total):
            sheet = rules_output(read)
            self._rules = sheet, sheet, ""  # the sheet is the whole table (written with the others, at the end)
        else:
            tables = self.stage / "tables"
            self.opened.append(table_paths(tables, "rules")[0])
            self._submit(begin_table, tables, "rules")
            work = []
            for part in rules_output_parts(read):
                self._submit(add_rows, tables, "rules", part)
                work.append(needs_work(part))
            self._submit(end_table, tables, "rules")
            sheet = pd.concat(work, ignore_index=True)
            self._rules = None, sheet, cut_note(len(sheet), total)
        self._submit(add_sheet, self.workbook, "rules", sheet)

    def finish(self, result: ScanResult, *, png: bool = False, groups: Sequence[str] = ()) -> Summary:
        """Every other output, from the scored ``result``; waits for the worker."""
        if self._rules is None:
            self.start(result)
        assert self._rules is not None
        rules, sheet, note = self._rules
        self._rules = None  # nothing big is kept once written (100k rules: the rules table is ~100 MB)
        cells = view_cells(result)
        # until the full rules table is made (below), the sheet stands in for it: the other sheets need no rules
        tables = scan_tables(result, all_tables(result, rules=False), sheet if rules is None else rules)
        sheets, coloured = workbook_sheets(result, tables, cells,
                                           {str(k): v for k, v in result.config.fail_under.items()}, (sheet, note))
        for name in SHEETS:
            if name != "rules":
                self._submit(add_sheet, self.workbook, name, sheets[name], coloured.get(name))
        self._submit(end_workbook, self.workbook)
        del sheets, sheet
        # a cut sheet stood in for the rules table, whose every rule the worker writes (start)
        write_tables(self.stage / "tables", dict(tables) if rules is not None else
                     {name: table for name, table in tables.items() if name != "rules"})
        del tables, rules  # their memory serves the heatmaps
        problems = [i for i in write_layers(result, cells, self.stage) if i.severity.value == "error"]
        if problems:
            raise DetcovError(issues=problems)
        write_heatmaps(result, cells, self.stage, png=png)
        if groups:
            write_group_layers(result, self.stage, groups)
        summary = result.summary
        write_summary(summary, self.stage, scan_namer(result.config, result.base))
        for pending in self._pending:  # the worker's first error, as itself
            pending.result()
        return summary

    def _submit(self, fn: Callable[P, Any], /, *args: P.args, **kwargs: P.kwargs) -> None:
        self._pending.append(self._worker.submit(fn, *args, **kwargs))


def workbook_worker(rules: int, background: bool | None = None) -> AbstractContextManager[Worker]:
    """The workbook's writer for a scan of ``rules`` rules (or rule files, counted before reading): a second
    process when ``background`` (default: :func:`background_workbook`), else this one. Started before the scan
    reads its inputs, its imports are done by the time the rules sheet is ready."""
    spawn = background_workbook(rules) if background is None else background
    return output_worker(spawn, preload=("detcov.outputs.excel",))


@contextmanager
def scan_outputs(out: Path, worker: Worker) -> Iterator[ScanOutputs]:
    """Write a scan's outputs into ``out`` as one set: into a staging folder first, moved into place only when the
    block ends without an error (:func:`detcov.fileio.staged_folder`), so a full disk or any error leaves the
    previous outputs untouched; the workbook by ``worker`` (:func:`workbook_worker`)."""
    with staged_folder(out) as stage:
        outputs = ScanOutputs(stage, worker)
        try:
            yield outputs
        except BaseException:
            if not worker.spawned:  # an in-process workbook or table left open: close its files (a worker stops)
                for path in outputs.opened:
                    drop_output(path)
            raise


def write_scan_outputs(result: ScanResult, out: Path, *, png: bool = False, groups: Sequence[str] = (),
                       background: bool | None = None) -> Summary:
    """Everything into ``out``, as one set (:func:`scan_outputs`). Layer validation problems are errors (a layer
    Navigator would reject)."""
    with workbook_worker(len(result.ruleset.rules), background) as worker, scan_outputs(out, worker) as outputs:
        return outputs.finish(result, png=png, groups=groups)
