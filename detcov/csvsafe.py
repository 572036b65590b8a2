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
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
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


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell neutralised (numeric columns untouched). Text columns are ``object`` or, since
    pandas 3 infers it for strings, the ``str`` dtype: both."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    out = frame.copy()
    for col in out.columns:
        if is_object_dtype(out[col].dtype) or is_string_dtype(out[col].dtype):
            out[col] = out[col].map(neutralise)
    return out


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text (``\\n`` line ends) with every cell neutralised."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([neutralise(h) for h in header])
    writer.writerows([neutralise(c) for c in row] for row in rows)
    return buf.getvalue()


def frame_csv(frame: pd.DataFrame, *, bom: bool = False) -> bytes:
    """A DataFrame as neutralised CSV bytes (UTF-8, with a BOM for Excel when ``bom``)."""
    text = neutralise_frame(frame).to_csv(index=False, lineterminator="\n")
    return ("\ufeff" + text if bom else text).encode("utf-8")
