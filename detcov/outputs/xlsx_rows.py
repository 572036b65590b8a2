"""A sheet's rows written as XML in bulk, into an xlsxwriter constant-memory worksheet.

xlsxwriter writes a cell in about 10 µs (its ``write`` dispatch, a cell tuple, then the XML of each cell on its
own); a 24,000-rule sheet of 14 columns took 3–5 s, the longest step of a warm 100,000-rule scan. Here the XML of
a column is made once per distinct value, and a row is a join of its cells: the same bytes xlsxwriter would write
(``tests/test_outputs_xlsx_rows.py`` compares them, file part against file part), about 5× faster (that sheet:
4.1 → 0.9 s, column widths included).

Only what these sheets hold is written so: text, numbers and booleans, each cell at most in its column's format.
Anything else (dates, a cell of its own format, a worksheet that is not in constant-memory mode or not fresh, an
xlsxwriter without the attributes used) makes :func:`write_rows` return False, and the caller writes the sheet
through xlsxwriter cell by cell. One deliberate difference: xlsxwriter writes a text that looks like
``<r>…</r>`` unescaped (as rich text, which such a text is not, so Excel would repair the file); here it is
escaped like any text. (A text longer than Excel's limit is cut as xlsxwriter cuts it, and the rest of its row is
written: ``write_row`` stopped there, which :mod:`detcov.outputs.excel` now works around too.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from xlsxwriter.utility import xl_col_to_name

ROWS_PER_WRITE = 1_000  # rows turned into Python values and XML at a time (the rules sheet's: ~3 MB of XML)
MAX_TEXT = 32_767  # Excel's longest cell text, in UTF-16 units (longer text is cut, as xlsxwriter cuts it)

_ESCAPED = re.compile(r"(_x[0-9a-fA-F]{4}_)")  # a literal escape: its underscore is escaped (Excel's rule)
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_SPECIAL = re.compile(r"[\x00-\x08\x0b-\x1f&<>\ufffe\uffff]|_x[0-9a-fA-F]{4}_")

Encoder = Callable[[Any], str]
"""A cell's value → the XML after ``<c r="A1"``, or "" for no cell at all (a blank, as xlsxwriter leaves it)."""


def _utf16_cut(text: str) -> str:
    if len(text) <= MAX_TEXT // 2 or len(text.encode("utf-16-le", "surrogatepass")) // 2 <= MAX_TEXT:
        return text
    units = 0
    for at, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > MAX_TEXT:
            return text[:at]
    return text


def _escaped(text: str) -> str:
    text = _ESCAPED.sub(r"_x005F\1", text)
    text = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text_encoder(style: str) -> Encoder:
    def encode(value: Any) -> str:
        if value is None or value == "":
            return ""
        text = _utf16_cut(value)
        if _SPECIAL.search(text):
            text = _escaped(text)
        keep = ' xml:space="preserve"' if text[0].isspace() or text[-1].isspace() else ""
        return f'{style} t="inlineStr"><is><t{keep}>{text}</t></is></c>'
    return encode


def _number_encoder(style: str) -> Encoder:
    def encode(value: Any) -> str:
        return "" if value is None else f"{style}><v>{value:.16G}</v></c>"
    return encode


def _bool_encoder(style: str) -> Encoder:
    def encode(value: Any) -> str:
        return "" if value is None else f'{style} t="b"><v>{1 if value else 0}</v></c>'
    return encode


def _kind(series: pd.Series) -> str | None:
    """"text", "number" or "bool" if every value of the column is of that kind (or missing); else None."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        finite = np.isfinite(series.to_numpy(dtype="float64", na_value=0.0)).all()
        return "number" if finite else None  # (xlsxwriter refuses inf: let it say so)
    if isinstance(dtype, pd.StringDtype):
        return "text"
    if pd.api.types.is_string_dtype(dtype):
        return "text" if all(type(v) is str for v in series.dropna()) else None
    return None


_ENCODERS = {"text": _text_encoder, "number": _number_encoder, "bool": _bool_encoder}


def cell_values(series: pd.Series) -> list[Any]:
    """Plain Python values (None for missing) that xlsxwriter writes natively."""
    values: list[Any] = series.astype(object).where(series.notna(), None).tolist()
    return values


def _encoded(values: list[Any], encode: Encoder) -> list[str]:
    """Each value's XML, made once per distinct value (most columns repeat a few values)."""
    table = {v: encode(v) for v in dict.fromkeys(values)}
    return list(map(table.__getitem__, values))


def _rows_xml(letters: Sequence[str], columns: Sequence[list[str]], first: int) -> Iterator[tuple[int, str]]:
    """(row number, its XML) of each row with a cell; rows numbered from ``first`` (1-based, as in the XML)."""
    for n, cells in enumerate(zip(*columns, strict=True), start=first):
        row = str(n)
        parts = [f'<c r="{col}{row}"{cell}' for col, cell in zip(letters, cells, strict=True) if cell]
        if parts:
            yield n, f'<row r="{row}">{"".join(parts)}</row>'


def _style(fmt: Any) -> str:
    return "" if fmt is None else f' s="{fmt._get_xf_index()}"'


def _fresh(ws: Any) -> bool:
    """A constant-memory worksheet that nothing has been written to, with the attributes used here."""
    try:
        return bool(ws.constant_memory) and ws.previous_row == 0 and not ws.table and not ws.row_info \
            and ws.default_row_height == ws.original_row_height and ws.excel_version != 2010 \
            and callable(ws._check_dimensions) and callable(ws.fh.write)
    except AttributeError:
        return False


def write_rows(ws: Any, frame: pd.DataFrame, header_format: Any, column_formats: Sequence[Any]) -> bool:
    """The header row (in ``header_format``) and every row of ``frame`` (cell ``c`` in ``column_formats[c]``,
    None for none), into the fresh constant-memory worksheet ``ws``; exactly what ``ws.write_row`` row by row
    would write. False, with nothing written, when the frame or the worksheet is not one this handles."""
    if not _fresh(ws) or len(column_formats) != frame.shape[1]:
        return False
    kinds = [_kind(frame[name]) for name in frame.columns]
    if None in kinds:
        return False
    style = _style(header_format)
    header = _text_encoder(style)
    heads = [[header(str(name)) or f"{style}/>"] for name in frame.columns]  # an empty name: a formatted blank
    encoders = [_ENCODERS[kind](_style(fmt)) for kind, fmt in zip(kinds, column_formats, strict=True)
                if kind is not None]
    letters = [xl_col_to_name(c) for c in range(frame.shape[1])]
    ws.fh.write("".join(xml for _, xml in _rows_xml(letters, heads, 1)))
    last = 1
    for start in range(0, len(frame), ROWS_PER_WRITE):
        part = frame.iloc[start:start + ROWS_PER_WRITE]
        columns = [_encoded(cell_values(part[name]), encode)
                   for name, encode in zip(part.columns, encoders, strict=True)]
        written = list(_rows_xml(letters, columns, start + 2))
        ws.fh.write("".join(xml for _, xml in written))
        last = written[-1][0] if written else last
    if frame.shape[1]:  # the sheet's dimensions, as xlsxwriter keeps them (0-based)
        ws._check_dimensions(0, 0)
        ws._check_dimensions(last - 1, frame.shape[1] - 1)
    return True
