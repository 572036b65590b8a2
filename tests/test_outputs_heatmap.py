"""ATT&CK-matrix heatmaps: figure structure, the self-contained HTML page, and (headless Chromium) the
rendered page: every tactic header in the DOM, a non-blank screenshot, a PNG and a PDF."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from test_outputs_navigator import view_cells

from detcov.attack import AttackKB
from detcov.errors import DetcovError
from detcov.outputs import chromium, colors, heatmap
from detcov.outputs.navigator import TechniqueCell, View


def _trace(fig: heatmap.go.Figure) -> heatmap.go.Heatmap:
    (trace,) = fig.data
    return trace


def test_columns_are_tactics_in_matrix_order_with_parents_sorted_by_score(kb18: AttackKB) -> None:
    cells = view_cells(kb18, View.DETECTION)
    fig = heatmap.matrix_figure(kb18, cells, View.DETECTION, title="Detection")
    trace = _trace(fig)
    assert list(trace.x) == [t.name for t in kb18.tactics]
    for col, tactic in enumerate(kb18.tactics):
        ids = [row[col] for row in trace.text if row[col]]
        ids = [re.search(r"<b>(T\d{4})</b>", text).group(1) for text in ids]  # type: ignore[union-attr]
        parents = [t.id for t in kb18.techniques_by_tactic(tactic.shortname) if not t.is_subtechnique]
        assert sorted(ids) == sorted(parents)
        scores = [cells[t].score for t in ids if cells[t].score is not None]
        assert scores == sorted(scores, reverse=True)
    assert fig.layout.xaxis.side == "top"


def test_hover_explains_the_cell_and_folds_subtechniques(kb18: AttackKB) -> None:
    cells = {"T1059.001": TechniqueCell("T1059.001", 4, comment="Sysmon EID 1 + 4104 rules <ok>")}
    fig = heatmap.matrix_figure(kb18, cells, "detection", title="x")
    trace = _trace(fig)
    col = [t.name for t in kb18.tactics].index("Execution")
    hovers = [row[col] for row in trace.customdata if row[col]]
    (hover,) = [h for h in hovers if h.startswith("<b>T1059 ")]
    assert "best sub-technique T1059.001" in hover and "Score: 4" in hover
    assert "T1059.001 PowerShell: 4" in hover and "&lt;ok&gt;" in hover  # comment shown, HTML escaped
    assert hovers[0] == hover  # the only scored parent sorts first
    # the parent's colour is the detection-4 band; unscored parents are in the grey "no data" band
    (z,) = [row[col] for row in trace.z if row[col] is not None][:1]
    bands = trace.colorscale
    assert bands[2 * int(z)][1] == colors.DETECTION_COLORS[4]
    assert bands[0][1] == colors.NO_DATA_GREY


def test_continuous_view_has_a_grey_no_data_band(kb18: AttackKB) -> None:
    cells = view_cells(kb18, View.PROFILE)
    cells = {k: v for k, v in cells.items() if v.score}
    trace = _trace(heatmap.matrix_figure(kb18, cells, View.PROFILE, title="Profile"))
    assert trace.colorscale[0][1] == colors.NO_DATA_GREY
    no_data = [z for row in trace.z for z in row if z is not None and z < 0]
    assert no_data and all(z == trace.zmin for z in no_data)
    assert trace.zmax == max(c.score or 0 for c in cells.values())


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
    texts = set(re.findall(r"<text[^>]*>([^<]+)</text>", dom))
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
        assert "Initial Access" in text and "T1059" in text


def test_missing_chromium_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(chromium, "find_chromium", lambda: None)
    (tmp_path / "p.html").write_text("<p>x</p>")
    with pytest.raises(DetcovError, match="apt-get install chromium"):
        chromium.screenshot(tmp_path / "p.html", tmp_path / "p.png")
    with pytest.raises(DetcovError, match="apt-get install chromium"):
        heatmap.write_png(heatmap.go.Figure(), tmp_path / "f.png")
