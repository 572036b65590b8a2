"""The coverage tables as one workbook (xlsxwriter) and as CSV + Parquet files.

One sheet per table, written row by row (xlsxwriter's constant-memory mode; the rows of text, number and boolean
columns as XML in bulk, :mod:`detcov.outputs.xlsx_rows`), each with an autofilter, a frozen header row, column
widths fitted to the content and a colour scale on the score columns (red = low, green = high, between the bounds
the caller gives) of the rows where a colour means something. Lists and tuples in cells become ``"; "``-joined
text, timezone-aware datetimes become naive UTC (Excel has no zones). CSV is UTF-8 with a BOM so Excel shows
Traditional Chinese labels correctly; Parquet keeps native types when pyarrow can store them.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.exceptions import FileCreateError

from detcov.csvsafe import frame_csv_parts
from detcov.errors import DetcovError
from detcov.fileio import atomic_path, make_folder
from detcov.outputs.colors import is_hex_color
from detcov.outputs.xlsx_rows import cell_values, write_rows

MAX_SHEET_NAME = 31
MIN_WIDTH, MAX_WIDTH = 8, 60
SCORE_COLORS = ("#f8696b", "#ffeb84", "#63be7b")  # Excel's own red-yellow-green scale
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_ASCII = re.compile(r"[\x00-\x7f]+")
ROW_CHUNK = 10_000  # rows turned into Python values at a time (the 100k-row rules sheet is never whole)


def sheet_names(names: list[str]) -> dict[str, str]:
    """Map table names to valid, unique Excel sheet names (≤ 31 chars, no ``[]:*?/\\``)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        base = _BAD_SHEET_CHARS.sub("_", name).strip("'") or "Sheet"
        candidate, n = base[:MAX_SHEET_NAME], 1
        while candidate.casefold() in used:
            n += 1
            suffix = f" ({n})"
            candidate = base[: MAX_SHEET_NAME - len(suffix)] + suffix
        used.add(candidate.casefold())
        out[name] = candidate
    return out


def _cell_text(value: Any) -> Any:
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return "; ".join(str(v) for v in items)
    if isinstance(value, dict):
        return "; ".join(f"{k}={v}" for k, v in value.items())
    return value


def flatten(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy that spreadsheets and CSV can hold: sequences joined as text, datetimes without time zones.
    Shallow: the columns that need no change are shared with ``frame``, never modified."""
    out = frame.copy(deep=False)
    for col in out.columns:
        series = out[col]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            out[col] = series.dt.tz_convert("UTC").dt.tz_localize(None)
        elif series.dtype == object:
            out[col] = series.map(_cell_text)
    return out


def text_width(text: str) -> int:
    """Columns ``text`` takes in a spreadsheet: East Asian wide and full-width characters count twice."""
    if text.isascii():
        return len(text)
    return len(text) + sum(unicodedata.east_asian_width(ch) in ("W", "F") for ch in _ASCII.sub("", text))


def _text_widths(text: pd.Series) -> pd.Series:
    """:func:`text_width` of every value: the ASCII ones (most) by their length, without a Python call each;
    the others one at a time (never the whole column as Python strings)."""
    lengths = text.str.len().to_numpy(dtype="int64", copy=True)
    ascii_ = text.str.isascii() if hasattr(text.str, "isascii") else text.map(str.isascii)  # pandas < 3
    others = np.flatnonzero(~ascii_.to_numpy(dtype=bool))
    for start in range(0, len(others), ROW_CHUNK):
        at = others[start:start + ROW_CHUNK]
        lengths[at] = [text_width(v) for v in text.iloc[at]]
    return pd.Series(lengths, dtype="int64")


def column_width(header: str, values: pd.Series) -> int:
    """Characters wide: the header or the 95th-percentile text width, whichever is larger, clamped (CJK counts
    double, so Chinese text is not cut off)."""
    lengths = _text_widths(values.dropna().astype(str))
    body = int(lengths.quantile(0.95)) if len(lengths) else 0
    return max(MIN_WIDTH, min(MAX_WIDTH, max(text_width(str(header)) + 2, body + 1)))


def _score_format(lo: float, hi: float) -> dict[str, Any]:
    return {"type": "3_color_scale", "min_type": "num", "min_value": lo, "mid_type": "num",
            "mid_value": (lo + hi) / 2, "max_type": "num", "max_value": hi, "min_color": SCORE_COLORS[0],
            "mid_color": SCORE_COLORS[1], "max_color": SCORE_COLORS[2]}


def _rows(frame: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
    """The rows as tuples of plain values, :data:`ROW_CHUNK` rows converted at a time."""
    for start in range(0, len(frame), ROW_CHUNK):
        part = frame.iloc[start:start + ROW_CHUNK]
        yield from zip(*(cell_values(part[name]) for name in part.columns), strict=True)


def _write_sheet(book: xlsxwriter.Workbook, ws: Any, frame: pd.DataFrame,
                 score_columns: Mapping[str, tuple[float, float]], coloured_rows: int | None,
                 swatches: Collection[str]) -> None:
    """One sheet, row by row (the workbook is in constant-memory mode: rows must come in order)."""
    header = book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#f2f2f2",
                              "border": 1})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    rows, cols = frame.shape
    formats = []
    for c, name in enumerate(frame.columns):
        width = column_width(str(name), frame[name])
        formats.append(wrap if width >= MAX_WIDTH else None)  # longer text wraps, never cut off
        ws.set_column(c, c, width, formats[-1])
    ws.freeze_panes(1, 0)
    swatch_at = [c for c, name in enumerate(frame.columns) if name in swatches]
    if swatch_at or not write_rows(ws, frame, header, formats):  # (cells of their own format: one by one)
        ws.write_row(0, 0, [str(n) for n in frame.columns], header)
        fills: dict[str, Any] = {}
        for r, values in enumerate(_rows(frame), start=1):
            if ws.write_row(r, 0, values):  # it stops at a cut text (-2): the rest of the row one by one
                for c, value in enumerate(values):
                    ws.write(r, c, value)
            for c in swatch_at:
                value = values[c]
                if isinstance(value, str) and is_hex_color(value):
                    fill = fills.setdefault(value, book.add_format({"bg_color": value, "font_color": value}))
                    ws.write_string(r, c, value, fill)
    if cols:
        ws.autofilter(0, 0, max(rows, 1), cols - 1)
    last = rows if coloured_rows is None else min(rows, coloured_rows)
    for c, name in enumerate(frame.columns):
        if name in score_columns and last:
            lo, hi = score_columns[name]
            ws.conditional_format(1, c, last, c, _score_format(lo, hi))


class StreamedWorkbook:
    """A workbook whose sheets are written whole, in any order, as their tables become ready (a scan's big rules
    sheet while it is still scoring); the tabs keep the order of ``names``. Written in xlsxwriter's
    constant-memory mode (its row files in the output folder), atomically: :meth:`close` renames it into place,
    :meth:`discard` (or any error) leaves ``path`` untouched. ``score_columns`` and ``swatches`` as in
    :func:`write_workbook`."""

    def __init__(self, path: str | Path, names: Sequence[str], *,
                 score_columns: Mapping[str, tuple[float, float]] | None = None,
                 swatches: Collection[str] = ("colour",)) -> None:
        self.path = Path(path)
        self._scores, self._swatches = dict(score_columns or {}), swatches
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        self._rows = Path(tmp.parent, tmp.name + ".rows")  # xlsxwriter's per-sheet row files, removed in any case
        try:
            self._rows.mkdir()
            # Text stays text: no formula (a comment starting with "=") and no URL conversion.
            self._book = xlsxwriter.Workbook(str(tmp), {
                "constant_memory": True, "tmpdir": str(self._rows), "strings_to_formulas": False,
                "strings_to_urls": False, "default_date_format": "yyyy-mm-dd hh:mm:ss"})
            titles = sheet_names(list(names))
            self._sheets = {name: self._book.add_worksheet(titles[name]) for name in names}
        except BaseException as exc:
            self._fail(exc)
        self._written: set[str] = set()

    def write(self, name: str, frame: pd.DataFrame, coloured_rows: int | None = None) -> None:
        """Sheet ``name``, whole (once); its colour scales on its first ``coloured_rows`` rows (default: all)."""
        if name in self._written:
            raise ValueError(f"sheet {name!r} is written already")
        self._written.add(name)
        try:
            _write_sheet(self._book, self._sheets[name], flatten(frame), self._scores, coloured_rows, self._swatches)
        except BaseException as exc:
            self._fail(exc)

    def close(self) -> Path:
        try:
            self._book.close()
        except FileCreateError as exc:  # xlsxwriter wraps the OSError (a full disk) of its final zip write
            cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else OSError(str(exc))
            try:
                raise cause from exc
            except OSError as error:
                self._fail(error)
        except BaseException as exc:
            self._fail(exc)
        self._drop_rows()
        self._atomic.__exit__(None, None, None)  # renamed into place (raises, as write_error, if it cannot be)
        return self.path

    def discard(self) -> None:
        """Give the workbook up: its temporary file is removed, ``path`` untouched."""
        error = RuntimeError("workbook discarded")
        self._drop_rows()
        with contextlib.suppress(BaseException):
            self._atomic.__exit__(type(error), error, None)

    def _fail(self, exc: BaseException) -> NoReturn:
        """Remove the temporary files and raise: an OSError as the one-line :func:`detcov.fileio.write_error`."""
        self._drop_rows()
        self._atomic.__exit__(type(exc), exc, exc.__traceback__)
        raise exc

    def _drop_rows(self) -> None:
        for ws in getattr(self, "_sheets", {}).values():  # an unclosed workbook's row files are still open
            with contextlib.suppress(Exception):
                ws.row_data_fh.close()
        shutil.rmtree(self._rows, ignore_errors=True)


def write_workbook(path: str | Path, sheets: Mapping[str, pd.DataFrame], *,
                   score_columns: Mapping[str, tuple[float, float]] | None = None,
                   coloured_rows: Mapping[str, int] | None = None,
                   swatches: Collection[str] = ("colour",)) -> Path:
    """One sheet per table (in the mapping's order), written row by row in xlsxwriter's constant-memory mode,
    atomically (a temporary file renamed into place). ``score_columns`` maps a column name, on any sheet, to
    the (low, high) bounds of its red-yellow-green colour scale; ``coloured_rows`` limits the scale of a sheet
    to its first N rows (e.g. the in-scope techniques, sorted first); a ``swatches`` column holding
    ``#rrggbb`` values is painted in that colour (the legend sheet)."""
    book = StreamedWorkbook(path, list(sheets), score_columns=score_columns, swatches=swatches)
    limits = dict(coloured_rows or {})
    for name, frame in sheets.items():
        book.write(name, frame, limits.get(name))
    return book.close()


# One process' open outputs (workbooks, tables written in parts), for a writer in another process
# (detcov.outputs.background) that is sent them as jobs, one at a time: begin, sheets or parts as they are ready,
# end (or drop). A table is known by its CSV path.
_OPEN: dict[str, StreamedWorkbook | TableFile] = {}
_O = TypeVar("_O", "StreamedWorkbook", "TableFile")


def _opened(path: Path, kind: type[_O], *, pop: bool = False) -> _O:
    out = _OPEN.pop(str(path), None) if pop else _OPEN.get(str(path))
    if not isinstance(out, kind):
        raise DetcovError(f"{path} is not open (an earlier part of it failed?)")
    return out


def begin_workbook(path: Path, names: Sequence[str], **options: Any) -> None:
    _OPEN[str(path)] = StreamedWorkbook(path, names, **options)


def add_sheet(path: Path, name: str, frame: pd.DataFrame, coloured_rows: int | None = None) -> None:
    book = _opened(path, StreamedWorkbook)
    try:
        book.write(name, frame, coloured_rows)
    except BaseException:  # (the workbook removed its files)
        _OPEN.pop(str(path), None)
        raise


def end_workbook(path: Path) -> Path:
    return _opened(path, StreamedWorkbook, pop=True).close()


def begin_table(directory: Path, name: str) -> Path:
    """Table ``name``'s CSV and Parquet files in ``directory``, opened for :func:`add_rows`; returns the CSV path,
    which names the open table (for :func:`drop_output`)."""
    csv, parquet = table_paths(directory, name)
    _OPEN[str(csv)] = TableFile(csv, parquet)
    return csv


def add_rows(directory: Path, name: str, frame: pd.DataFrame) -> None:
    csv, _ = table_paths(directory, name)
    table = _opened(csv, TableFile)
    try:
        table.add(frame)
    except BaseException:  # (the table removed its files)
        _OPEN.pop(str(csv), None)
        raise


def end_table(directory: Path, name: str) -> list[Path]:
    return _opened(table_paths(directory, name)[0], TableFile, pop=True).close()


def drop_output(path: Path) -> None:
    """Discard an open workbook or table (by its CSV path) after an error elsewhere: no temporary file is left."""
    out = _OPEN.pop(str(path), None)
    if out is not None:
        out.discard()


def file_stem(name: str) -> str:
    """A file-name-safe stem for a table name: ``"Rule gaps (P1)"`` → ``rule-gaps-p1``."""
    stem = re.sub(r"[^\w]+", "-", name.casefold()).strip("-")
    return stem or "table"


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(lambda v: v if v is None or isinstance(v, str) else str(v))
    return out


TableParts = Iterable[pd.DataFrame]
"""A table given in parts (the same columns, rows in order): written as they come, never whole in memory."""


def table_paths(directory: Path, name: str) -> tuple[Path, Path]:
    stem = file_stem(name)
    return directory / f"{stem}.csv", directory / f"{stem}.parquet"


def write_tables(directory: str | Path, sheets: Mapping[str, pd.DataFrame | TableParts]) -> list[Path]:
    """``<stem>.csv`` and ``<stem>.parquet`` per table (a frame, or :data:`TableParts`: the rules table of a
    100,000-rule scan is made and written 5,000 rows at a time). Returns the paths written."""
    directory = make_folder(Path(directory))
    written: list[Path] = []
    stems: set[str] = set()
    for name, table in sheets.items():
        stem = file_stem(name)
        while stem in stems:
            stem += "-2"
        stems.add(stem)
        out = TableFile(*table_paths(directory, stem))
        try:
            for part in [table] if isinstance(table, pd.DataFrame) else table:
                out.add(part)
        except BaseException:
            out.discard()
            raise
        written += out.close()
    return written


class TableFile:
    """A table's CSV and Parquet files, written part by part (the same columns, rows in order: the CSV bytes and
    the Parquet rows are the whole table's), atomically: :meth:`close` renames both into place; an error, or
    :meth:`discard`, leaves both paths untouched. Arrow's memory pool is given back after each part."""

    def __init__(self, csv: Path, parquet: Path) -> None:
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise DetcovError("Parquet output needs pyarrow", hint="pip install pyarrow") from exc
        self.paths = [csv, parquet]
        self._pq, self._parts = pq, 0
        self._writer: Any = None
        self._files = contextlib.ExitStack()
        try:
            csv_tmp = self._files.enter_context(atomic_path(csv))
            self._parquet = self._files.enter_context(atomic_path(parquet))
            self._out = self._files.enter_context(csv_tmp.open("wb"))
        except BaseException as exc:
            self._fail(exc)

    def add(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        try:
            flat = flatten(frame)
            self._out.writelines(frame_csv_parts(flat, bom=not self._parts, header=not self._parts))
            try:
                table = pa.Table.from_pandas(frame, preserve_index=False)
            except (ValueError, TypeError, NotImplementedError, pa.ArrowException):  # untypable: as text
                table = pa.Table.from_pandas(_as_text(flat), preserve_index=False)
            if self._writer is None:
                self._writer = self._pq.ParquetWriter(self._parquet, table.schema)
            writer = self._writer
            writer.write_table(table if table.schema.equals(writer.schema) else table.cast(writer.schema))
            self._parts += 1
            del table, flat, frame
            pa.default_memory_pool().release_unused()  # Arrow's allocator would keep each part's memory
        except BaseException as exc:
            self._fail(exc)

    def close(self) -> list[Path]:
        if not self._parts:
            self._fail(ValueError(f"{self.paths[0].stem}: a table in parts needs one part at least (its columns)"))
        try:
            self._close_writer()
        except BaseException as exc:
            self._fail(exc)
        self._files.__exit__(None, None, None)  # both renamed into place (raises, as write_error, if they cannot be)
        return self.paths

    def discard(self) -> None:
        error = RuntimeError("table discarded")
        with contextlib.suppress(BaseException):
            self._fail(error)

    def _close_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def _fail(self, exc: BaseException) -> NoReturn:
        """Remove the temporary files and raise: an OSError as the one-line :func:`detcov.fileio.write_error`."""
        with contextlib.suppress(BaseException):
            self._close_writer()
        self._files.__exit__(type(exc), exc, exc.__traceback__)
        raise exc
