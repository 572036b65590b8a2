"""CSV cells that a spreadsheet opens as text, never as a formula (CSV/formula injection).

A rule title, a log-source name or a comment comes from files other people wrote; Excel and LibreOffice run a
cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a formula (``=HYPERLINK(…)``,
``=cmd|' /C calc'!A0``). Such a cell gets a leading apostrophe (OWASP's advice), which spreadsheets show as
plain text. Numbers stay numbers: ``-1`` (a detection score) or ``-0.5`` is left alone. A text that itself starts
with an apostrophe gets one more, so :func:`restore` (used when detcov reads its own tables back, e.g. into the
history) gives exactly the original. The xlsx output is safe by construction (xlsxwriter with
``strings_to_formulas`` off); this is the same promise for CSV.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CSV_CHUNK_ROWS = 5_000  # rows converted to CSV text at a time (a 100k-rule table is never whole in memory)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralise(value: Any) -> Any:
    """``value`` with a leading ``'`` when a spreadsheet would treat it as a formula; non-strings unchanged."""
    if isinstance(value, str) and (value.startswith("'") or (value.startswith(TRIGGERS)
                                                               and not _NUMBER.match(value))):
        return "'" + value
    return value


def restore(value: str) -> str:
    """The original text of a cell :func:`neutralise` wrote."""
    return value[1:] if value.startswith("'") else value


def _neutralised_column(series: pd.Series) -> pd.Series:
    """``series`` with its text cells neutralised: object columns cell by cell; pandas string columns (the
    default text dtype of pandas 3) only when some cell starts with a trigger or an apostrophe."""
    import pandas as pd

    if series.dtype == object:
        return series.map(neutralise)
    if not pd.api.types.is_string_dtype(series.dtype):
        return series
    if not series.str.startswith(("'", *TRIGGERS)).fillna(False).to_numpy(dtype=bool).any():
        return series
    return series.astype(object).map(neutralise).astype(series.dtype)


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell neutralised (numeric columns untouched). Text columns are ``object`` or, since
    pandas 3 infers it for strings, the ``str`` dtype: both."""
    out = frame.copy(deep=False)
    for col in out.columns:
        out[col] = _neutralised_column(out[col])
    return out


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text (``\\n`` line ends) with every cell neutralised."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([neutralise(h) for h in header])
    writer.writerows([neutralise(c) for c in row] for row in rows)
    return buf.getvalue()


def frame_csv_parts(frame: pd.DataFrame, *, bom: bool = False, header: bool = True) -> Iterator[bytes]:
    """A DataFrame as neutralised CSV (UTF-8, with a BOM for Excel when ``bom``; ``header=False``: rows only, a
    table's later part), :data:`CSV_CHUNK_ROWS` rows at a time, for :func:`detcov.fileio.atomic_write`. A table
    of text columns only (the rules table: 100,000 rows, 80 MB) is joined by Arrow (:func:`_text_csv`), the others
    by pandas; both quote as ``csv`` does."""
    if bom:
        yield "\ufeff".encode()
    text = len(frame.columns) > 1 and all(_is_text(frame[c]) for c in frame.columns)
    for start in range(0, max(len(frame), 1), CSV_CHUNK_ROWS):
        part = neutralise_frame(frame.iloc[start:start + CSV_CHUNK_ROWS])
        first = header and start == 0
        yield _text_csv(part, header=first) if text else \
            part.to_csv(index=False, header=first, lineterminator="\n").encode("utf-8")


def _is_text(series: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_string_dtype(series.dtype) and series.dtype != object


_QUOTE = r'[,"\n\r]'  # what makes csv.writer (QUOTE_MINIMAL, "\n" line ends) quote a field; and "\r", which it
# leaves bare before Python 3.13: a carriage return inside a field is quoted here, as the CSV standard asks


def _text_csv(frame: pd.DataFrame, *, header: bool) -> bytes:
    """Text columns as CSV lines, each field quoted where it needs it, built column-wise by Arrow (the ``csv``
    module looks at every character in a C loop, ~20 MB/s: 4 s for the rules table of 100,000 rules)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def field(values: pa.Array) -> pa.Array:
        values = pc.fill_null(values, "")
        mark = pa.scalar('"', pa.large_string())
        quoted = pc.binary_join_element_wise(mark, pc.replace_substring(values, '"', '""'), mark,
                                             pa.scalar("", pa.large_string()))
        return pc.if_else(pc.match_substring_regex(values, _QUOTE), quoted, values)

    lines = pc.binary_join_element_wise(*[field(pa.array(frame[c], pa.large_string(), from_pandas=True))
                                          for c in frame.columns], pa.scalar(",", pa.large_string()))
    body = pc.binary_join(pa.LargeListArray.from_arrays(pa.array([0, len(lines)], pa.int64()), lines),
                          pa.scalar("\n", pa.large_string()))
    names = [str(c) for c in frame.columns]
    top = ",".join(f'"{n.replace(chr(34), chr(34) * 2)}"' if re.search(_QUOTE, n) else n for n in names)
    rows: bytes = pc.cast(body, pa.large_binary())[0].as_py() or b""
    return (f"{top}\n".encode() if header else b"") + rows + (b"\n" if len(lines) else b"")


def frame_csv(frame: pd.DataFrame, *, bom: bool = False) -> bytes:
    """A DataFrame as neutralised CSV bytes (UTF-8, with a BOM for Excel when ``bom``)."""
    return b"".join(frame_csv_parts(frame, bom=bom))
