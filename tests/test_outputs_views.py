"""The demo bank's views as a detection engineer sees them: parent cells show their sub-techniques, the three
states look different, layers fit the Navigator legend panel, and (headless Chromium) every heatmap view fits a
1,600 px screen with its legend visible and its parent/sub marks in the DOM."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from detcov.coverage.engine import ScanResult, run_scan
from detcov.outputs import chromium, colors, heatmap
from detcov.outputs.navigator import View, build_layer, validate_layer
from detcov.outputs.views import VIEW_TITLES, view_cells

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo-bank"


@pytest.fixture(scope="module")
def result(bundle18: Path) -> ScanResult:
    return run_scan(DEMO / "detcov.yaml", attack_path=bundle18)


@pytest.fixture(scope="module")
def figures(result: ScanResult) -> dict[View, heatmap.go.Figure]:
    cells = view_cells(result)
    return {v: heatmap.matrix_figure(result.kb, c, v, title=VIEW_TITLES[v]) for v, c in cells.items()}


def drawn(fig: heatmap.go.Figure, tid: str) -> tuple[str, str, str]:
    """(label text, legend label of its colour, hover) of a parent technique's cell."""
    (trace,) = fig.data
    labels = dict(zip(trace.colorbar.tickvals, trace.colorbar.ticktext, strict=True))
    for r, row in enumerate(trace.text):
        for c, text in enumerate(row):
            if text.startswith(f"<b>{tid}</b>"):
                return text, labels[trace.z[r][c]], trace.customdata[r][c]
    raise AssertionError(f"{tid} not drawn")


def test_a_parent_shows_its_worst_sub_technique(result: ScanResult, figures: dict[View, heatmap.go.Figure]) -> None:
    # the highest gap of a family whose worst member is a sub-technique (T1059.003 in the demo)
    seen: set[str] = set()
    top = None
    for gap in result.gaps:
        family = gap.technique.split(".")[0]
        if family not in seen and "." in gap.technique:
            top = gap
            break
        seen.add(family)
    assert top is not None
    tech = result.kb.technique(top.technique)
    assert tech is not None and tech.parent
    label, band, hover = drawn(figures[View.GAPS], tech.parent)
    expected = colors.GAPS_SCALE.band(top.priority, colors.GAPS_SCALE.upper(g.priority for g in result.gaps))
    assert expected is not None and band == expected.label
    # the colour comes from a sub-technique in the top band (the first by id when several share it)
    assert f"worst of its sub-techniques: {tech.parent}." in hover and f"{top.technique} " in hover
    assert heatmap.SPLIT_MARK in label or heatmap.FROM_SUB_MARK in label
    # a parent with no rule of its own and a sub-technique rule gap is "no rule", never "no data"
    rule_gap_subs = [g for g in result.gaps if g.gap.value == "rule-gap" and "." in g.technique]
    parent = rule_gap_subs[0].technique.split(".")[0]
    _, band, hover = drawn(figures[View.DETECTION], parent)
    assert band == "-1 no rule" and rule_gap_subs[0].technique in hover


def test_states_in_the_demo(result: ScanResult) -> None:
    cells = view_cells(result)
    det = cells[View.DETECTION]
    assert det["T1595"].band is colors.NOT_APPLICABLE  # PRE technique: no telemetry anywhere
    in_scope = set(result.in_scope)
    out = [t for t, c in det.items() if c.band is colors.OUT_OF_SCOPE]
    assert out and not set(out) & in_scope
    no_rule = [t for t, c in det.items() if c.score == -1]
    broken = {t for t, d in result.detection.items() if d.broken}  # out of scope but with unhealthy rules: shown
    assert no_rule and set(no_rule) <= in_scope | broken
    # profile comments name the groups and say how many more there are
    busy = max(result.weights.values(), key=lambda w: w.count)
    comment = cells[View.PROFILE][busy.technique].comment
    assert f"used by {busy.count} groups" in comment and "G0046 FIN7" in comment
    if busy.count > 8:
        assert comment.endswith(f"+{busy.count - 8} more")


def test_demo_layers_fit_navigator(result: ScanResult) -> None:
    for view, cells in view_cells(result).items():
        layer = build_layer(result.kb, view, cells, name=view.value, description=VIEW_TITLES[view])
        assert validate_layer(layer, result.kb, oracle=True) == [], view
        labels = [i["label"] for i in layer["legendItems"]]
        assert labels and all(len(lbl) <= colors.MAX_LABEL for lbl in labels), labels
        used = {e["color"] for e in layer["techniques"] if e.get("color")}
        assert {i["color"] for i in layer["legendItems"]} == used, view
        assert "?." not in layer["description"]
        meta = {m["name"]: m["value"] for m in layer["metadata"]}
        assert sum(int(meta[lbl].split()[0]) for lbl in labels) == len(cells), view  # real counts, all drawn


# ----- headless Chromium: every view as a user opens it ---------------------------------------------------
@pytest.fixture(scope="module")
def dom_parts(figures: dict[View, heatmap.go.Figure], browser: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> dict[View, str]:
    """The rendered DOM of the one page with every view (as heatmaps.html), cut per figure."""
    page = heatmap.write_html(tmp_path_factory.mktemp("views") / "all.html",
                              [(VIEW_TITLES[v], f) for v, f in figures.items()], title="demo")
    dom = chromium.dump_dom(page)
    starts = [dom.index(f'id="figure-{i}"') for i in range(len(figures))] + [len(dom)]
    return {v: dom[starts[i]:starts[i + 1]] for i, v in enumerate(figures)}


@pytest.mark.chromium
@pytest.mark.parametrize("view", list(View))
def test_view_in_chromium(view: View, figures: dict[View, heatmap.go.Figure], dom_parts: dict[View, str],
                          tmp_path: Path) -> None:
    fig, dom = figures[view], dom_parts[view]
    cells = [html.unescape(t) for t in re.findall(r'<text[^>]*data-unformatted="(&lt;b&gt;T\d{4}[^"]*)"', dom)]
    assert len(cells) >= 150, len(cells)  # every parent technique of the matrix is drawn
    legend = re.findall(r'class="ycb\w*tick"><text[^>]*data-unformatted="([^"]*)"', dom)
    (trace,) = fig.data
    assert [html.unescape(x) for x in legend] == [html.unescape(t) for t in trace.colorbar.ticktext]
    assert 2 <= len(legend) <= 16 and all(len(html.unescape(x)) <= colors.MAX_LABEL for x in legend)
    assert any(heatmap.SPLIT_MARK in c for c in cells), "no parent cell marks its split family"
    # the screenshot at 1,600 x 1,000: the legend's colours are on screen, right of the matrix
    page = heatmap.write_html(tmp_path / f"{view.value}.html", [("", fig)], title=VIEW_TITLES[view])
    png = chromium.screenshot(page, tmp_path / f"{view.value}.png", 1600, 1000)
    with Image.open(png) as image:
        strip = image.convert("RGB").crop((int(fig.layout.width) - 200, 100, 1600, 600))
        seen = {c for _, c in strip.getcolors(200000) or []}
    missing = {colors.hex_to_rgb(c) for _, c in trace.colorscale} - seen
    assert len(missing) <= 1, f"legend colours off-screen: {missing}"  # white may blend with the page


# ----- coverage.xlsx -------------------------------------------------------------------------------------
def test_workbook_reads_in_priority_order_with_kpis_and_legend_first(result: ScanResult, tmp_path: Path) -> None:
    import openpyxl

    from detcov.coverage.kpis import all_tables
    from detcov.outputs.excel import write_workbook
    from detcov.outputs.scan_outputs import SCORE_COLUMNS
    from detcov.outputs.workbook import scan_tables, workbook_sheets

    tables = scan_tables(result, all_tables(result, rules=False))
    sheets, coloured = workbook_sheets(result, tables, view_cells(result), {"detection": 60})
    book = openpyxl.load_workbook(write_workbook(tmp_path / "c.xlsx", sheets, score_columns=SCORE_COLUMNS,
                                                 coloured_rows=coloured))
    assert book.sheetnames[:2] == ["KPIs", "Legend"]
    kpis = {r[0]: r for r in book["KPIs"].iter_rows(min_row=2, values_only=True)}
    assert kpis["detection"][3] == result.summary.kpis.detection.percent and kpis["detection"][5] == 60
    assert kpis["detection"][6] == ("yes" if result.summary.kpis.detection.percent >= 60 else "no")
    # the legend sheet paints each layer colour and names it with the layer's label
    legend = book["Legend"]
    swatches = [(r[1].value, r[1].fill.fgColor.rgb) for r in legend.iter_rows(min_row=2) if r[1].value]
    assert swatches and all(rgb == "FF" + value[1:].upper() for value, rgb in swatches)
    # techniques: in scope first, by priority; colour scales stop at the last in-scope row
    ws = book["techniques"]
    header = [c.value for c in ws[1]]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    scope, prio = header.index("in_scope"), header.index("priority")
    n_in = sum(1 for r in rows if r[scope])
    assert all(r[scope] for r in rows[:n_in]) and not any(r[scope] for r in rows[n_in:])
    assert [r[prio] for r in rows[:n_in]] == sorted((r[prio] for r in rows[:n_in]), reverse=True)
    ranges = {str(k.sqref) for k in ws.conditional_formatting}
    assert ranges and all(rng.endswith(str(n_in + 1)) for rng in ranges)
    # devices: the five DeTT&CT data-quality dimensions
    dev_header = [c.value for c in book["devices"][1]]
    for dim in ("device_completeness", "data_field_completeness", "timeliness", "consistency", "retention"):
        assert dim in dev_header


def test_workbook_and_csv_hold_every_table_whole(result: ScanResult, tmp_path: Path) -> None:
    """Every sheet has its table's header and rows (the rules sheet cell for cell); every CSV reads back (through
    the history's reader, which undoes the formula neutralisation) as the table's text."""
    import openpyxl

    from detcov.coverage.kpis import all_tables
    from detcov.outputs.excel import flatten, write_tables, write_workbook
    from detcov.outputs.history.snapshot import read_csv
    from detcov.outputs.scan_outputs import SCORE_COLUMNS
    from detcov.outputs.workbook import scan_tables, workbook_sheets

    tables = scan_tables(result, all_tables(result, rules=False))
    sheets, coloured = workbook_sheets(result, tables, view_cells(result), {})
    book = openpyxl.load_workbook(write_workbook(tmp_path / "c.xlsx", sheets, score_columns=SCORE_COLUMNS,
                                                 coloured_rows=coloured), read_only=True)
    assert book.sheetnames == list(sheets)
    for name, frame in sheets.items():
        rows = list(book[name].iter_rows(values_only=True))
        assert list(rows[0]) == list(frame.columns) and len(rows) == len(frame) + 1, name
    rules = flatten(tables["rules"]).astype(object)
    expected = [tuple(None if v is None or v == "" or v != v else v for v in r) for r in rules.itertuples(index=False)]
    got = [tuple(None if v == "" else v for v in r) for r in book["rules"].iter_rows(min_row=2, values_only=True)]
    assert got == expected
    write_tables(tmp_path / "tables", tables)
    for name, frame in tables.items():
        back = read_csv(tmp_path / "tables" / f"{name}.csv")
        assert len(back) == len(frame), name
        text = frame.select_dtypes(exclude="number").drop(columns=frame.select_dtypes("bool").columns)
        for col in text.columns:
            assert [r[col] for r in back] == ["" if v != v else str(v) for v in text[col]], (name, col)


# ----- per system group (the scope model's cells) ---------------------------------------------------------
def test_per_group_rows_layers_and_columns(result: ScanResult, tmp_path: Path) -> None:
    from detcov.coverage.kpis import all_tables
    from detcov.outputs.scan_outputs import write_group_layers
    from detcov.outputs.views import critical_groups, group_rows, scan_cells
    from detcov.outputs.workbook import scan_tables

    cells = scan_cells(result)
    if not cells:
        pytest.skip("ScanResult.cells (the scope model of issues 11/12) is not on this branch yet")
    tid = result.gaps[0].technique
    rows = dict(group_rows(result, tid))
    mine = [c for (t, _), c in cells.items() if t == tid]
    for c in mine:
        if c.applicable:
            assert f"det {c.detection}" in rows[f"{c.group} (crit. {c.criticality})"]
    assert all(c.group in rows.get("not applicable in", "") for c in mine if not c.applicable)
    hover = drawn(heatmap.matrix_figure(result.kb, view_cells(result)[View.DETECTION], View.DETECTION, title="d"),
                  (result.kb.technique(tid).parent or tid))[2]  # type: ignore[union-attr]
    assert next(c.group for c in mine if c.applicable) in hover  # per-group rows in the heatmap hover
    critical = critical_groups(result)
    assert critical and all(c.criticality >= 4 for (_, g), c in cells.items() if g in critical)
    written = write_group_layers(result, tmp_path, ["critical"])
    assert len(written) == 4 * len(critical)
    for path in written:
        layer = json.loads(path.read_text(encoding="utf-8"))
        assert validate_layer(layer, result.kb) == [] and all(
            len(i["label"]) <= colors.MAX_LABEL for i in layer["legendItems"])
    techniques = scan_tables(result, all_tables(result, rules=False))["techniques"]
    for group in {g for _, g in cells}:
        assert f"det:{group}" in techniques.columns and f"gap:{group}" in techniques.columns


def test_workbook_of_a_large_rule_set_keeps_the_rules_that_need_work(result: ScanResult,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the workbook's rule limit (lowered here to the demo's size), the rules sheet keeps the rules that are
    not healthy where they apply, and the Legend says where every rule is; the tables keep them all."""
    from detcov.coverage.kpis import all_tables
    from detcov.outputs import workbook
    from detcov.outputs.workbook import scan_tables, workbook_sheets

    tables = scan_tables(result, all_tables(result, rules=False))
    everything = tables["rules"]
    monkeypatch.setattr(workbook, "WORKBOOK_ALL_RULES", len(everything) - 1)
    sheets, _ = workbook_sheets(result, tables, view_cells(result), {})
    work = everything[~everything["health"].isin(("healthy", "not-applicable"))]
    assert 0 < len(sheets["rules"]) == len(work) < len(everything)
    # made of those rules alone (before scoring, in a scan), it is the full table's rows, in the same order
    pd.testing.assert_frame_equal(sheets["rules"].reset_index(drop=True), work.reset_index(drop=True))
    note = sheets["Legend"].iloc[-1]
    assert note["label"] == "rules sheet" and f"{len(work):,} of {len(everything):,}" in note["meaning"]
    assert len(tables["rules"]) == len(everything)  # the CSV / Parquet tables are untouched
    monkeypatch.setattr(workbook, "WORKBOOK_ALL_RULES", len(everything))
    assert len(workbook_sheets(result, tables, view_cells(result), {})[0]["rules"]) == len(everything)


def test_rules_table_columns_are_each_rules_own(result: ScanResult) -> None:
    """Every text of the rules table, recomputed rule by rule from its health (the table shares texts between rules
    with the same verdicts; no column may take another's)."""
    from detcov.coverage.kpis import rules_table
    from detcov.rules.health import verdicts_text

    table = rules_table(result)
    assert len(table) == len(result.healths)
    for row, h in zip(table.itertuples(index=False), result.healths, strict=True):
        assert row.rule_id == h.rule.id and row.health == h.outcome.value and row.detail == h.detail
        assert row.siems == ";".join(h.rule.siems) and row.healthy_in == ";".join(h.healthy_groups)
        assert row.per_group == verdicts_text(h.groups)
        assert row.techniques == ";".join(h.rule.technique_ids) and row.missing == ";".join(h.missing)
    assert any(row.per_group and row.per_group != row.healthy_in for row in table.itertuples(index=False))


def test_the_rules_table_made_in_order_is_the_sorted_table(result: ScanResult) -> None:
    """A scan makes the rules table already in its written order (no sorted copy of 100,000 rows): the same rows
    and values as sorting the scan-order table."""
    from detcov.coverage.kpis import rules_table
    from detcov.outputs.portable import scan_namer
    from detcov.outputs.workbook import HEALTH_ORDER, rules_output

    made = rules_output(result)
    raw = scan_namer(result.config, result.base).frame(rules_table(result))
    rank = raw["health"].map(lambda h: HEALTH_ORDER.get(h, 0))
    sorted_ = raw.assign(_r=rank).sort_values(["_r", "rule_id"], kind="stable").drop(columns="_r")
    assert len(made) == len(result.healths) > 50
    pd.testing.assert_frame_equal(made.reset_index(drop=True), sorted_.reset_index(drop=True))


def test_the_rules_table_in_parts_is_the_whole_table(result: ScanResult) -> None:
    """A big scan writes its rules table in parts: together they are the whole table, row for row."""
    from detcov.outputs.workbook import rules_output, rules_output_parts

    parts = list(rules_output_parts(result, rows=7))
    assert len(parts) == -(-len(result.healths) // 7) > 5
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), rules_output(result).reset_index(drop=True))
