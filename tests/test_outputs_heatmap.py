"""ATT&CK-matrix heatmaps: figure structure, the self-contained HTML page, and (headless Chromium) the
rendered page: every tactic header in the DOM, a non-blank screenshot, a PNG and a PDF."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageStat
from test_outputs_navigator import view_cells

from detcov.attack import AttackKB
from detcov.errors import DetcovError
from detcov.outputs import chromium, colors, heatmap
from detcov.outputs.navigator import TechniqueCell, View, full_legend


def _trace(fig: heatmap.go.Figure) -> heatmap.go.Heatmap:
    (trace,) = fig.data
    return trace


def _ticks(trace: heatmap.go.Heatmap) -> list[str]:
    return list(trace.colorbar.ticktext)


def _band_label(trace: heatmap.go.Heatmap, z: int) -> str:
    return _ticks(trace)[list(trace.colorbar.tickvals).index(z)]


def test_columns_are_tactics_in_matrix_order_with_parents_worst_first(kb18: AttackKB) -> None:
    cells = view_cells(kb18, View.DETECTION)
    fig = heatmap.matrix_figure(kb18, cells, View.DETECTION, title="Detection")
    trace = _trace(fig)
    assert [x.replace("<br>", " ") for x in trace.x] == [t.name for t in kb18.tactics]
    order = [b.label for b in full_legend(View.DETECTION)]
    for col, tactic in enumerate(kb18.tactics):
        ids = [row[col] for row in trace.text if row[col]]
        ids = [re.search(r"<b>(T\d{4})</b>", text).group(1) for text in ids]  # type: ignore[union-attr]
        parents = [t.id for t in kb18.techniques_by_tactic(tactic.shortname) if not t.is_subtechnique]
        assert sorted(ids) == sorted(parents)
        labels = [_band_label(trace, row[col]) for row in trace.z if row[col] is not None]
        ranks = [order.index(lbl) for lbl in labels]
        assert ranks == sorted(ranks)  # "-1 no rule" (first in the legend) on top, best last
    assert fig.layout.xaxis.side == "top"


def test_parent_shows_the_worst_sub_technique_with_a_split_mark(kb18: AttackKB) -> None:
    cells = {"T1059.001": TechniqueCell("T1059.001", 4, comment="Sysmon EID 1 + 4104 rules <ok>"),
             "T1059.003": TechniqueCell("T1059.003", -1, comment="no rule"),
             "T1059": TechniqueCell("T1059", 2)}
    trace = _trace(heatmap.matrix_figure(kb18, cells, "detection", title="x"))
    col = [t.name for t in kb18.tactics].index("Execution")
    (row,) = [r for r, line in enumerate(trace.text) if line[col].startswith("<b>T1059</b>")]
    assert heatmap.SPLIT_MARK in trace.text[row][col]
    assert _band_label(trace, trace.z[row][col]) == "-1 no rule"
    hover = trace.customdata[row][col]
    assert "<b>-1 no rule</b>" in hover and "worst of its sub-techniques: T1059.003" in hover
    assert "T1059.001 PowerShell: 4 very good" in hover and "T1059.003 Windows Command Shell: -1 no rule" in hover
    assert "Sub-techniques (2):" in hover


def test_parent_without_its_own_cell_takes_its_sub_technique(kb18: AttackKB) -> None:
    cells = {"T1059.001": TechniqueCell("T1059.001", 4, comment="rules <ok>")}
    trace = _trace(heatmap.matrix_figure(kb18, cells, "detection", title="x"))
    col = [t.name for t in kb18.tactics].index("Execution")
    label = trace.text[0][col]  # the only scored family sorts first
    assert label.startswith(f"<b>T1059</b> {heatmap.FROM_SUB_MARK}")
    assert _band_label(trace, trace.z[0][col]) == "4 very good"
    assert _ticks(trace) == ["No data", "4 very good"]  # the others: not in the data, white as in Navigator


def test_no_rule_not_applicable_and_out_of_scope_look_different_and_say_so(kb18: AttackKB) -> None:
    cells = {"T1087": TechniqueCell("T1087", -1, "no rule"),
             "T1595": TechniqueCell("T1595", None, "PRE", band=colors.NOT_APPLICABLE),
             "T1659": TechniqueCell("T1659", None, "not in profile", band=colors.OUT_OF_SCOPE)}
    trace = _trace(heatmap.matrix_figure(kb18, cells, "detection", title="x"))
    assert _ticks(trace) == ["No data", "Not applicable", "Out of scope", "-1 no rule"]  # bottom to top
    colours = {trace.colorscale[2 * i][1] for i in range(4)}
    assert len(colours) == 4


def test_every_hover_names_the_band_its_colour_shows(kb18: AttackKB) -> None:
    for view in View:
        trace = _trace(heatmap.matrix_figure(kb18, view_cells(kb18, view), view, title=view.value))
        for zrow, hrow in zip(trace.z, trace.customdata, strict=True):
            for z, hover in zip(zrow, hrow, strict=True):
                if z is not None:
                    assert f"<b>{_band_label(trace, z)}</b>" in hover, (view, hover[:200])


def test_the_unvalidated_figure_is_what_plotly_validation_makes(kb18: AttackKB) -> None:
    """matrix_figure skips plotly's validation (for speed): validating its figure must change nothing, the
    "plotly_white" template included."""
    for view in (View.DETECTION, View.VISIBILITY, View.GAPS):
        fig = heatmap.matrix_figure(kb18, view_cells(kb18, view), view, title=f"{view.value} <&>")
        validated = heatmap.go.Figure(fig.to_dict())
        assert json.loads(validated.to_json()) == json.loads(fig.to_json())
        assert fig.to_dict()["layout"]["template"]["layout"]["plot_bgcolor"] == "white"
        # the plain JSON a scan's heatmaps.html embeds (no figure object) draws the same figure
        plain = heatmap.matrix_json(kb18, view_cells(kb18, view), view, title=f"{view.value} <&>")
        assert json.loads(heatmap.go.Figure(plain).to_json()) == json.loads(validated.to_json())
        page, same = (heatmap.render_html([("h", f)], title="t") for f in (plain, fig))
        assert len(_embedded(page)) == 1 and _embedded(page) == _embedded(same) and len(page) == len(same)


def _embedded(page: str) -> list[Any]:
    """Each figure's data and layout as the page hands them to ``Plotly.newPlot("id", data, layout, config)``."""
    decoder, found = json.JSONDecoder(), []
    for call in re.finditer(r'Plotly\.newPlot\(\s*"[^"]+",\s*', page):
        data, end = decoder.raw_decode(page, call.end())
        layout, _ = decoder.raw_decode(page, re.compile(r",\s*").match(page, end).end())  # type: ignore[union-attr]
        found.append([data, layout])
    return found


def test_figure_fits_a_1600_px_screen_with_the_legend_on_top(kb18: AttackKB) -> None:
    fig = heatmap.matrix_figure(kb18, view_cells(kb18, View.GAPS), View.GAPS, title="Gaps")
    assert fig.layout.width <= heatmap.MAX_WIDTH < 1600
    bar = _trace(fig).colorbar
    assert bar.y == 1.0 and bar.yanchor == "top" and all(len(t) <= colors.MAX_LABEL for t in bar.ticktext)


def test_platform_filter_and_bad_platform(kb18: AttackKB) -> None:
    fig = heatmap.matrix_figure(kb18, {}, View.VISIBILITY, title="x", platforms=["Windows"])
    drawn = {re.search(r"(T\d{4})", t).group(1) for row in _trace(fig).text for t in row if t}  # type: ignore[union-attr]
    assert drawn and all("Windows" in kb18.technique(t).platforms for t in drawn)  # type: ignore[union-attr]
    with pytest.raises(DetcovError, match="no ATT&CK techniques on platforms"):
        heatmap.matrix_figure(kb18, {}, View.VISIBILITY, title="x", platforms=["Amiga"])


def test_html_page_is_self_contained(kb18: AttackKB, tmp_path: Path) -> None:
    figs = [(v.value, heatmap.matrix_figure(kb18, view_cells(kb18, v), v, title=v.value))
            for v in (View.VISIBILITY, View.VISIBILITY_DETECTION)]
    page = heatmap.write_html(tmp_path / "heat.html", figs, title="Coverage 覆蓋率").read_text("utf-8")
    library = heatmap.get_plotlyjs()
    assert page.count(library) == 1  # plotly.js inlined exactly once
    rest = page.replace(library, "")
    assert "<script" in rest and not re.search(r"<script[^>]*\bsrc=", rest)  # nothing loaded from outside
    assert "https://" not in rest and "http://" not in rest
    assert rest.count("Plotly.newPlot(") == 2
    assert len(re.findall(r'"displayModeBar":\s*false', rest)) == 2
    assert "Coverage 覆蓋率" in page


# ----- headless Chromium ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def page(kb18: AttackKB, tmp_path_factory: pytest.TempPathFactory, browser: Path) -> Iterator[Path]:
    cells = view_cells(kb18, View.DETECTION)
    fig = heatmap.matrix_figure(kb18, cells, View.DETECTION, title="Detection coverage")
    yield heatmap.write_html(tmp_path_factory.mktemp("heat") / "heat.html", [("Detection", fig)], title="t")


def _non_blank(png: Path) -> None:
    with Image.open(png) as image:
        stat = ImageStat.Stat(image.convert("L"))
        assert stat.stddev[0] > 20  # a blank or single-colour page has ~0
        colours = image.convert("RGB").resize((200, 200)).getcolors(40000) or []
        assert len(colours) > 20


@pytest.mark.chromium
def test_rendered_dom_shows_every_tactic_header(kb18: AttackKB, page: Path) -> None:
    dom = chromium.dump_dom(page)
    texts = {t.replace("&lt;br&gt;", " ") for t in re.findall(r'<text[^>]*data-unformatted="([^"]+)"', dom)}
    missing = [t.name for t in kb18.tactics if t.name not in texts]
    assert not missing, missing
    assert "T1059" in dom  # cell labels are drawn too


@pytest.mark.chromium
def test_screenshot_is_not_blank(page: Path, tmp_path: Path) -> None:
    png = chromium.screenshot(page, tmp_path / "shot.png", 1400, 900)
    _non_blank(png)


@pytest.mark.chromium
def test_png_and_pdf_export(kb18: AttackKB, page: Path, tmp_path: Path) -> None:
    fig = heatmap.matrix_figure(kb18, view_cells(kb18, View.GAPS), View.GAPS, title="Gaps")
    png = heatmap.write_png(fig, tmp_path / "gaps.png")
    _non_blank(png)
    with Image.open(png) as image:
        assert image.size[0] >= fig.layout.width * 0.9
    pdf = chromium.print_pdf(page, tmp_path / "heat.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):  # poppler-utils (installed by .ci/run): the matrix is text, not an image
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "Initial" in text and "Access" in text and "T1059" in text  # tactic names wrap over two lines


def test_missing_chromium_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(chromium, "find_chromium", lambda: None)
    (tmp_path / "p.html").write_text("<p>x</p>")
    with pytest.raises(DetcovError, match="apt-get install chromium"):
        chromium.screenshot(tmp_path / "p.html", tmp_path / "p.png")
    with pytest.raises(DetcovError, match="apt-get install chromium"):
        heatmap.write_png(heatmap.go.Figure(), tmp_path / "f.png")
