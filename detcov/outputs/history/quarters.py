"""Quarter labels (``2026Q3``): validation, order, the previous quarter and the same quarter a year earlier."""

from __future__ import annotations

import re

from detcov.errors import DetcovError

_QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*Q([1-4])\s*$", re.IGNORECASE)
FORMAT_HINT = "write the quarter as YYYYQn, e.g. 2026Q3"


def parse_quarter(text: str) -> str:
    """The canonical label (``2026q3`` → ``2026Q3``); :class:`DetcovError` for anything else."""
    m = _QUARTER.match(text or "")
    if m is None:
        raise DetcovError(f"{text!r} is not a quarter", hint=FORMAT_HINT)
    return f"{m.group(1)}Q{m.group(2)}"


def quarter_key(quarter: str) -> tuple[int, int]:
    """Sort key: (year, quarter number)."""
    canonical = parse_quarter(quarter)
    return int(canonical[:4]), int(canonical[5])


def shift(quarter: str, quarters: int) -> str:
    """The quarter ``quarters`` steps later (negative: earlier)."""
    year, q = quarter_key(quarter)
    index = year * 4 + (q - 1) + quarters
    return f"{index // 4}Q{index % 4 + 1}"


def year_ago(quarter: str) -> str:
    return shift(quarter, -4)
