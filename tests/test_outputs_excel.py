"""coverage.xlsx and the CSV/Parquet tables: the workbook opens, with filters, frozen headers, widths and
colour scales; the tables round-trip."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from detcov import csvsafe
from detcov.attack import AttackKB
from detcov.csvsafe import neutralise_frame, restore
from detcov.outputs import excel
from detcov.outputs.excel import column_width, file_stem, flatten, sheet_names, text_width, write_tables, write_workbook


@pytest.fixture(scope="module")
def sheets(kb18: AttackKB) -> dict[str, pd.DataFrame]:
    techniques = pd.DataFrame([
        {"technique": t.id, "name": t.name, "tactics": list(t.tactics), "visibility": int(t.id[1:5]) % 5,
         "detection": int(t.id[1:5]) % 7 - 1, "comment": "=not a formula 測試"}
        for t in kb18.techniques()
    ])
    rules = pd.DataFrame({"rule": ["Suspicious PowerShell", "LSASS access"],
                          "techniques": [("T1059.001",), ()],
                          "last_fired": pd.to_datetime(["2026-01-02T03:04:05Z", None], utc=True)})
    gaps = pd.DataFrame({"technique": ["T1078"], "gap": ["no rule"], "priority": [0.9]})
    return {"Techniques": techniques, "Rules": rules, "Devices": pd.DataFrame({"device": []}),
            "Gaps": gaps, "Recommendations [next quarter]": pd.DataFrame({"step": ["Enable Sysmon EID 10"]})}


def test_workbook_has_one_formatted_sheet_per_table(sheets: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "coverage.xlsx", sheets,
                          score_columns={"visibility": (0, 4), "detection": (-1, 5), "priority": (0, 1)})
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Techniques", "Rules", "Devices", "Gaps", "Recommendations _next quarter_"]
    ws = book["Techniques"]
    frame = sheets["Techniques"]
    assert ws.max_row == len(frame) + 1
    assert [c.value for c in ws[1]] == list(frame.columns)
    assert ws.auto_filter.ref == f"A1:F{len(frame) + 1}"
    assert ws.freeze_panes == "A2"
    rules = {rng.sqref: [r.type for r in rs] for rng, rs in ws.conditional_formatting._cf_rules.items()}
    assert {str(k): v for k, v in rules.items()} == {f"D2:D{len(frame) + 1}": ["colorScale"],
                                                     f"E2:E{len(frame) + 1}": ["colorScale"]}
    widths = {col: ws.column_dimensions[col].width for col in "ABCDEF"}
    assert widths["B"] > widths["A"] >= 8  # names are wider than ids
    # lists became text, a leading "=" stayed text, time zones were dropped
    assert ws["C2"].value == "; ".join(first_row_tactics(frame))
    assert ws["F2"].value == "=not a formula 測試" and ws["F2"].data_type == "s"
    rules_ws = book["Rules"]
    assert rules_ws["B2"].value == "T1059.001" and rules_ws["C2"].value == datetime(2026, 1, 2, 3, 4, 5)
    assert book["Gaps"].conditional_formatting and book["Devices"].max_row == 1


def first_row_tactics(frame: pd.DataFrame) -> list[str]:
    return list(frame.iloc[0]["tactics"])


def test_tables_round_trip_as_csv_and_parquet(sheets: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    written = write_tables(tmp_path / "tables", sheets)
    assert sorted(p.name for p in written) == sorted(
        f"{stem}.{ext}" for stem in ("techniques", "rules", "devices", "gaps", "recommendations-next-quarter")
        for ext in ("csv", "parquet"))
    csv = pd.read_csv(tmp_path / "tables" / "techniques.csv", encoding="utf-8-sig")
    assert list(csv.columns) == list(sheets["Techniques"].columns)
    # a formula-looking text is neutralised in the CSV (also for pandas 3's default string dtype), restorable
    assert csv["comment"].iloc[0] == "'=not a formula 測試"
    assert restore(csv["comment"].iloc[0]) == sheets["Techniques"]["comment"].iloc[0]
    assert (tmp_path / "tables" / "techniques.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    parquet = pd.read_parquet(tmp_path / "tables" / "techniques.parquet")
    assert list(parquet["tactics"].iloc[0]) == first_row_tactics(sheets["Techniques"])  # native lists kept
    assert parquet["comment"].iloc[0] == "=not a formula 測試"  # Parquet is data, not a spreadsheet: as is
    assert parquet["detection"].tolist() == sheets["Techniques"]["detection"].tolist()
    rules = pd.read_parquet(tmp_path / "tables" / "rules.parquet")
    assert rules["last_fired"].iloc[0] == pd.Timestamp("2026-01-02T03:04:05Z")


def test_mixed_column_falls_back_to_text_in_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame({"value": [1, "two", None, 3.5]})
    write_tables(tmp_path, {"Mixed": frame})
    values = pd.read_parquet(tmp_path / "mixed.parquet")["value"].tolist()
    assert [None if pd.isna(v) else v for v in values] == ["1", "two", None, "3.5"]


def test_names_are_made_safe_and_unique() -> None:
    names = sheet_names(["a/b", "A/B", "x" * 40, "x" * 40 + "y"])
    assert names["a/b"] == "a_b" and names["A/B"] == "A_B (2)"
    assert len(set(names.values())) == 4 and all(len(n) <= 31 for n in names.values())
    assert file_stem("Rule gaps (P1)") == "rule-gaps-p1" and file_stem("???") == "table"


def test_flatten_leaves_the_input_alone() -> None:
    frame = pd.DataFrame({"ids": [["T1", "T2"], {"T3"}], "when": pd.to_datetime(["2026-01-01", "2026-02-01"],
                                                                                    utc=True)})
    flat = flatten(frame)
    assert flat["ids"].tolist() == ["T1; T2", "T3"] and flat["when"].dt.tz is None
    assert frame["ids"].iloc[0] == ["T1", "T2"] and frame["when"].dt.tz is not None
    assert datetime(2026, 1, 1, tzinfo=UTC) == frame["when"].iloc[0]


def test_colour_scales_only_on_the_rows_that_carry_meaning_and_swatches(sheets: dict[str, pd.DataFrame],
                                                                         tmp_path: Path) -> None:
    legend = pd.DataFrame({"label": ["no rule", "not a colour"], "colour": ["#f4c7c3", "red"]})
    path = write_workbook(tmp_path / "c.xlsx", {"Legend": legend, "Techniques": sheets["Techniques"]},
                          score_columns={"detection": (-1, 5)}, coloured_rows={"Techniques": 10})
    book = openpyxl.load_workbook(path)
    assert [str(k.sqref) for k in book["Techniques"].conditional_formatting] == ["E2:E11"]
    assert book["Legend"]["B2"].fill.fgColor.rgb == "FFF4C7C3" and book["Legend"]["B3"].fill.fgColor.rgb != "FFFF0000"
    assert [p.name for p in tmp_path.iterdir()] == ["c.xlsx"]  # written atomically: no temporary file left
    assert path.stat().st_mode & 0o777 != 0o600  # normal file mode, not mkstemp's


def test_text_width_counts_wide_characters_twice_ascii_or_not() -> None:
    import unicodedata

    def by_character(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)

    for text in ("", "T1059.001", "測試 rule", "Core banking — blind", "ｆｕｌｌ width", "é" * 3, "a\u0301", "🛡 edr"):
        assert text_width(text) == by_character(text), text


@pytest.fixture
def chunky(monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    """Tiny chunks, so the row-by-row writers cross many chunk borders; a frame with hostile and CJK text."""
    monkeypatch.setattr(excel, "ROW_CHUNK", 3)
    monkeypatch.setattr(csvsafe, "CSV_CHUNK_ROWS", 2)
    n = 11
    return pd.DataFrame({
        "rule_id": [f"R{i}" for i in range(n)],
        "title": ["=HYPERLINK(\"http://x\")" if i % 4 == 0 else f"規則 {i}" for i in range(n)],
        "score": [i - 1 for i in range(n)],
        "share": [i / 4 if i % 5 else None for i in range(n)],
        "techniques": [("T1059", f"T10{i:02d}") for i in range(n)],
        "ok": [i % 2 == 0 for i in range(n)],
    })


def test_chunked_csv_is_the_whole_frame_neutralised(chunky: pd.DataFrame, tmp_path: Path) -> None:
    write_tables(tmp_path, {"rules": chunky})
    expected = neutralise_frame(flatten(chunky)).to_csv(index=False, lineterminator="\n")
    assert (tmp_path / "rules.csv").read_bytes() == ("\ufeff" + expected).encode("utf-8")
    back = pd.read_csv(tmp_path / "rules.csv", encoding="utf-8-sig")
    assert back["title"].iloc[0] == "'=HYPERLINK(\"http://x\")"
    assert back["rule_id"].tolist() == chunky["rule_id"].tolist()


def test_a_table_in_parts_is_written_as_the_whole_table(chunky: pd.DataFrame, tmp_path: Path) -> None:
    """The rules table of a big scan is written in parts: the CSV bytes are the whole table's, and the Parquet file
    reads back as the whole table (its parts are row groups)."""
    write_tables(tmp_path / "whole", {"rules": chunky})
    write_tables(tmp_path / "parts", {"rules": (chunky.iloc[i:i + 4] for i in range(0, len(chunky), 4))})
    assert (tmp_path / "parts" / "rules.csv").read_bytes() == (tmp_path / "whole" / "rules.csv").read_bytes()
    parts, whole = (pd.read_parquet(tmp_path / d / "rules.parquet") for d in ("parts", "whole"))
    assert parts.equals(whole) and list(parts.dtypes) == list(whole.dtypes) and len(parts) == len(chunky)
    with pytest.raises(ValueError, match="one part at least"):
        write_tables(tmp_path / "none", {"rules": iter(())})
    assert not list((tmp_path / "none").iterdir())  # nothing left behind


def test_chunked_workbook_holds_every_row_in_order(chunky: pd.DataFrame, tmp_path: Path) -> None:
    ws = openpyxl.load_workbook(write_workbook(tmp_path / "c.xlsx", {"rules": chunky}))["rules"]
    rows = [tuple(c.value for c in row) for row in ws.iter_rows(min_row=2)]
    flat = flatten(chunky).astype(object)
    assert rows == [tuple(None if pd.isna(v) else v for v in r) for r in flat.itertuples(index=False)]
    assert ws["B2"].value == "=HYPERLINK(\"http://x\")" and ws["B2"].data_type == "s"  # text, not a formula
    assert int(ws.column_dimensions["B"].width) == column_width("title", flat["title"])  # + xlsxwriter padding


def _cells(path: Path) -> dict[str, list[list[object]]]:
    book = openpyxl.load_workbook(path)
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in book.worksheets}


def test_sheets_written_out_of_order_give_the_same_workbook(sheets: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    """A scan writes its big rules sheet first, while it still scores; the tabs and every cell are as if written in
    order."""
    scores = {"visibility": (0.0, 4.0), "detection": (-1.0, 5.0)}
    in_order = write_workbook(tmp_path / "a.xlsx", sheets, score_columns=scores)
    path = tmp_path / "b.xlsx"
    excel.begin_workbook(path, list(sheets), score_columns=scores)
    for name in reversed(list(sheets)):
        excel.add_sheet(path, name, sheets[name])
    assert excel.end_workbook(path) == path
    assert _cells(path) == _cells(in_order)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xlsx", "b.xlsx"]  # no row file or temporary left


def test_a_dropped_or_failed_workbook_leaves_nothing(sheets: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    path = tmp_path / "c.xlsx"
    path.write_bytes(b"previous")
    excel.begin_workbook(path, list(sheets))
    excel.add_sheet(path, "Rules", sheets["Rules"])
    excel.drop_output(path)
    assert path.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == ["c.xlsx"]
    excel.begin_workbook(path, list(sheets))
    with pytest.raises(KeyError):
        excel.add_sheet(path, "no such sheet", sheets["Rules"])
    with pytest.raises(Exception, match="not open"):
        excel.end_workbook(path)
    assert path.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == ["c.xlsx"]
