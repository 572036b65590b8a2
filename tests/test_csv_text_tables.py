"""Tables of text columns only (the rules table: 100,000 rows at scale) are joined into CSV by Arrow; the bytes must
be those pandas / the csv module write, and every table must read back cell for cell."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from detcov import csvsafe
from detcov.csvsafe import frame_csv, neutralise_frame, restore

AWKWARD = ["plain", 'a "quoted" word', "comma, inside", "two\nlines", "", None, "=HYPERLINK(1)", "'apostrophe",
           "-1", "ünïcödé 漢字", " spaces ", "trailing,", '"', ",", "\n", "tab\tinside", "semi;colon"]


def _pandas_csv(frame: pd.DataFrame) -> bytes:
    return neutralise_frame(frame).to_csv(index=False, lineterminator="\n").encode("utf-8")


def _text_frame(n: int = 3) -> pd.DataFrame:
    rows = len(AWKWARD) * n
    return pd.DataFrame({"title": (AWKWARD * n)[:rows], "id": [f"r{i}" for i in range(rows)],
                         'odd, "name"': list(reversed((AWKWARD * n)[:rows]))}, dtype="str")


def test_text_tables_take_the_arrow_path_and_write_what_pandas_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _text_frame()
    calls: list[bool] = []
    real = csvsafe._text_csv

    def spy(part: pd.DataFrame, *, header: bool) -> bytes:
        calls.append(header)
        return real(part, header=header)

    monkeypatch.setattr(csvsafe, "_text_csv", spy)
    monkeypatch.setattr(csvsafe, "CSV_CHUNK_ROWS", 7)  # several parts: the header only once
    assert frame_csv(frame) == _pandas_csv(frame)
    assert calls[0] is True and not any(calls[1:]) and len(calls) == -(-len(frame) // 7)


def test_text_tables_read_back_cell_for_cell() -> None:
    frame = _text_frame()
    rows = list(csv.reader(io.StringIO(frame_csv(frame, bom=True).decode("utf-8-sig"), newline="")))
    assert rows[0] == list(frame.columns)
    assert [[restore(c) for c in r] for r in rows[1:]] == frame.fillna("").to_numpy().tolist()


def test_a_carriage_return_inside_a_field_is_quoted() -> None:
    frame = pd.DataFrame({"a": ["x\ry", "z"], "b": ["1", "2"]}, dtype="str")
    assert frame_csv(frame) == b'a,b\n"x\ry",1\nz,2\n'


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"a": ["x", "y"], "n": [1, 2]}),  # a number column: pandas writes it
    pd.DataFrame({"only": ["", "x"]}, dtype="str"),  # one column: an empty field is written as ""
    pd.DataFrame({"a": pd.Series([], dtype="str"), "b": pd.Series([], dtype="str")}),
    pd.DataFrame({"a": ["x", None], "b": ["y", "z"]}, dtype=object),
])
def test_other_tables_are_written_by_pandas_as_before(frame: pd.DataFrame) -> None:
    assert frame_csv(frame) == _pandas_csv(frame)
