"""User text files that are not YAML (CSV exports from Excel, trackers): decoding and CSV rows, never a crash.

* :func:`decode_text` accepts UTF-8 (with or without BOM) and UTF-16/UTF-32 with a BOM (Excel's "Unicode text").
  Anything else is refused with the line of the first undecodable byte and how to re-save the file; a Big5/cp950
  or cp1252 file (what Excel writes on Traditional Chinese / Western Windows) is named as such. detcov does not
  guess an encoding: a wrong guess would silently turn technique names or test names into mojibake.
* :func:`csv_rows` reads every row; a cell over :data:`MAX_CELL` characters, or a row the ``csv`` module cannot
  parse, becomes an issue at ``file:line`` and the row is skipped — the rest of the file is still read.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from detcov.errors import DetcovError, Issue, Location

MAX_CELL = 131_072  # the csv module's default field limit: a longer cell is reported, not read
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_RESAVE = "re-save it as UTF-8 (Excel: Save As › 'CSV UTF-8 (Comma delimited)')"


class TextProblem(ValueError):
    """Bytes that are not text detcov reads: ``message`` and ``line`` (1-based, when known)."""

    def __init__(self, message: str, line: int | None = None, hint: str = _RESAVE) -> None:
        super().__init__(message)
        self.message, self.line, self.hint = message, line, hint


def _legacy_name(data: bytes) -> str:
    for codec, label in (("cp950", "Big5 (cp950)"), ("cp1252", "Windows-1252 (cp1252)")):
        try:
            data.decode(codec)
        except UnicodeDecodeError:
            continue
        return f"; it looks like {label}"
    return ""


def decode_text(data: bytes) -> str:
    """Bytes → text, or :class:`TextProblem` saying why not and at which line."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise TextProblem(f"not valid {codec.upper()} text (byte {exc.start})") from exc
    head = data[:8192]
    if b"\x00" in head:
        if len(head) >= 4 and (head[1::2].count(0) > len(head) // 4 or head[0::2].count(0) > len(head) // 4):
            raise TextProblem("UTF-16 text without a byte-order mark", 1)
        raise TextProblem("binary file: not a text file", 1, "pass a text (CSV/YAML) file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TextProblem(f"not UTF-8 text (undecodable byte 0x{data[exc.start]:02x}){_legacy_name(data)}",
                          line) from exc


def read_text(path: str | Path, what: str, hint: str) -> str:
    """A user's text file, or :class:`DetcovError` at ``path[:line]`` (``what`` names it; ``hint`` for I/O)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as exc:
        raise DetcovError(f"cannot read {what} (file not found)", location=Location(str(p)), hint=hint) from exc
    except OSError as exc:
        raise DetcovError(f"cannot read the {what} ({exc.strerror or exc})", location=Location(str(p)),
                          hint=hint) from exc
    try:
        return decode_text(data)
    except TextProblem as exc:
        raise DetcovError(f"{what}: {exc.message}", location=Location(str(p), exc.line), hint=exc.hint) from exc


@contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, limit))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def csv_rows(text: str, path: str, issues: list[Issue], delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """(1-based line, cells) per CSV record; bad records are reported into ``issues`` and skipped."""
    lines = text.splitlines(keepends=True)
    reader = csv.reader(lines, delimiter=delimiter)
    with _field_limit(len(text) + 1):
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                issues.append(Issue(f"unreadable CSV record ({exc})", Location(path, line),
                                    "check the quotes on that line"))
                continue
            longest = max((len(c) for c in row), default=0)
            if longest > MAX_CELL:
                issues.append(Issue(f"a cell of {longest:,} characters is over the {MAX_CELL:,} limit",
                                    Location(path, line), "shorten that cell (or split it into several rows)"))
                continue
            yield line, row
