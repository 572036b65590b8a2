"""Rows written as XML in bulk are the bytes xlsxwriter writes cell by cell: every part of the workbook is
compared, with the awkward values (escapes, control characters, whitespace, long and wide text, blanks, numbers,
booleans, wrapped columns); what the bulk path does not handle goes cell by cell, unchanged."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import openpyxl
import pandas as pd
import pytest

from detcov.outputs import excel, xlsx_rows
from detcov.outputs.excel import write_workbook

AWKWARD = ["plain", "a & b < c > d", 'quote " and \'', "line\nbreak", "tab\tinside", " leading", "trailing ",
           "\u3000full-width space", "nbsp\u00a0", "ctrl \x01\x08\x0b\x1f end", "\r\n", "\x1c starts",
           "literal _x0041_ escape", "_x00E9_", "non-char \ufffe \uffff", "規則 測試 ルール", "emoji 🛡️", "",
           None, "=SUM(A1)", "http://example.com", "x" * 40_000, "🛡" * 20_000, "   ", "é" * 70]


def _frame(rows: int = 300) -> pd.DataFrame:
    n = len(AWKWARD)
    return pd.DataFrame({
        "text": [AWKWARD[i % n] for i in range(rows)],
        "object text": pd.Series([AWKWARD[(i * 7) % n] for i in range(rows)], dtype=object),
        "wide": ["a long description " * 5 if i % 3 else None for i in range(rows)],  # a wrapped column
        "count": np.arange(rows, dtype="int64") - 50,
        "score": [None if i % 11 == 0 else i / 7 for i in range(rows)],
        "big": [1e20, 1 / 3, -0.0, 123456789012345678, 2.5e-12] * (rows // 5),
        "flag": [i % 2 == 0 for i in range(rows)],
        "": ["unnamed column"] * rows,
        "sparse": ["" if i < rows - 3 else "only at the end" for i in range(rows)],
    })


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist() if not name.startswith("docProps/")}


def _both(tmp_path: Path, sheets: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch,
          **options: object) -> tuple[dict[str, bytes], dict[str, bytes]]:
    fast = _parts(write_workbook(tmp_path / "fast.xlsx", sheets, **options))  # type: ignore[arg-type]
    with monkeypatch.context() as m:
        m.setattr(excel, "write_rows", lambda *args: False)
        slow = _parts(write_workbook(tmp_path / "slow.xlsx", sheets, **options))  # type: ignore[arg-type]
    return fast, slow


def test_bulk_rows_are_the_bytes_xlsxwriter_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []
    real = xlsx_rows.write_rows
    monkeypatch.setattr(excel, "write_rows", lambda *a: calls.append(real(*a)) or calls[-1])
    sheets = {"Awkward": _frame(), "Second": _frame(40).iloc[::-1], "Empty": _frame(0),
              "Blank tail": pd.DataFrame({"a": ["x", "", None], "b": [None, None, None]})}
    fast = _parts(write_workbook(tmp_path / "fast.xlsx", sheets, score_columns={"score": (0, 40)}))
    assert calls == [True] * len(sheets)  # every sheet went the bulk way
    monkeypatch.setattr(excel, "write_rows", lambda *args: False)
    slow = _parts(write_workbook(tmp_path / "slow.xlsx", sheets, score_columns={"score": (0, 40)}))
    assert fast.keys() == slow.keys()
    for name in fast:
        assert fast[name] == slow[name], name
    sheet = fast["xl/worksheets/sheet1.xml"]
    assert b'<dimension ref="A1:I301"/>' in sheet and b"_x005F_x0041_" in sheet and b"_x0001_" in sheet
    ElementTree.fromstring(sheet)  # well-formed
    row = next(openpyxl.load_workbook(tmp_path / "fast.xlsx")["Awkward"].iter_rows(min_row=23, max_row=23))
    assert row[0].value == "x" * 32_767 and row[3].value == 21 - 50  # cut to Excel's limit; the row goes on


def test_rows_beyond_one_chunk_keep_their_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx_rows, "ROWS_PER_WRITE", 7)
    frame = pd.DataFrame({"n": range(30), "label": [f"row {i}" if i % 4 else "" for i in range(30)]})
    fast, slow = _both(tmp_path, {"Rows": frame}, monkeypatch)
    assert fast == slow
    ws = openpyxl.load_workbook(tmp_path / "fast.xlsx")["Rows"]
    assert [c.value for c in ws["A"]][1:] == list(range(30))


def test_text_that_looks_like_rich_text_is_escaped(tmp_path: Path) -> None:
    """xlsxwriter writes ``<r>…</r>`` as raw rich text (an invalid file); the bulk path escapes it."""
    path = write_workbook(tmp_path / "rich.xlsx", {"Rules": pd.DataFrame({"title": ["<r>not rich</r>", "ok"]})})
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    assert b"&lt;r&gt;not rich&lt;/r&gt;" in sheet
    ElementTree.fromstring(sheet)
    assert openpyxl.load_workbook(path)["Rules"]["A2"].value == "<r>not rich</r>"


@pytest.mark.parametrize("column", [
    pd.Series(["text", 3, None], dtype=object),  # mixed
    pd.to_datetime(["2026-01-02", None, "2026-03-04"]),  # dates: xlsxwriter's own conversion
    pd.Series([np.str_("numpy text"), "text", None], dtype=object),
])
def test_other_columns_are_written_cell_by_cell(column: pd.Series, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pd.DataFrame({"kept": ["a", "b", "c"], "other": column})
    assert not xlsx_rows.write_rows(_FreshSheet(), frame, None, [None, None])
    fast, slow = _both(tmp_path, {"Other": frame}, monkeypatch)
    assert fast == slow


def test_infinity_is_refused_as_before(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="NAN/INF"):
        write_workbook(tmp_path / "inf.xlsx", {"Scores": pd.DataFrame({"score": [1.0, np.inf]})})
    assert not (tmp_path / "inf.xlsx").exists()


class _FreshSheet:
    """Stands in for a fresh constant-memory worksheet (nothing must be written when a column is refused)."""
    constant_memory, previous_row, table, row_info, excel_version = True, 0, {}, {}, 2007
    default_row_height = original_row_height = 15

    class fh:
        @staticmethod
        def write(text: str) -> int:
            raise AssertionError("nothing is written for a refused frame")

    def _check_dimensions(self, row: int, col: int) -> int:
        raise AssertionError("no dimensions for a refused frame")
