"""The quarterly report in headless Chromium: the page draws (non-blank), the KPIs on screen equal summary.json
in both languages, a hostile rule title stays text and never runs, and the PDF holds the KPIs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from test_history_bank import HOSTILE_DEVICE, HOSTILE_TITLE, QUARTERS, write_scan

from detcov.attack import AttackKB
from detcov.coverage.summary import Summary
from detcov.outputs import chromium
from detcov.outputs.history import record_scan
from detcov.outputs.report import build_report, catalogue

pytestmark = pytest.mark.chromium
KPI_CARD = re.compile(r'<div class="kpi rag-\w+" data-kpi="(\w+)" data-covered="(\d+)" data-total="(\d+)" '
                      r'data-percent="([\d.]+)" data-weighted="([\d.]+)"[^>]*>'
                      r'.*?<span class="kpi-weighted">([\d.]+)%</span>.*?<div class="kpi-plain">([^<]*)</div>', re.S)


@pytest.fixture(scope="module")
def bank(kb18: AttackKB, tmp_path_factory: pytest.TempPathFactory, browser: Path) -> tuple[Path, Summary]:
    root = tmp_path_factory.mktemp("bank")
    summary = None
    for step, quarter in enumerate(QUARTERS):
        summary = write_scan(root / quarter, kb18, step, hostile=quarter == QUARTERS[-1])
        record_scan(root / "h.sqlite", quarter, root / quarter)
    on_disk = Summary.model_validate_json((root / QUARTERS[-1] / "summary.json").read_bytes())
    assert on_disk == summary
    return root / "h.sqlite", on_disk


@pytest.fixture(scope="module")
def reports(bank: tuple[Path, Summary], kb18: AttackKB, tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, list[Path]]:
    out = tmp_path_factory.mktemp("report")
    return {"en": build_report(bank[0], "2026Q3", out, lang="en", formats=("html",), kb=kb18),
            "zh-TW": build_report(bank[0], "2026Q3", out, lang="zh-TW", formats=("html", "pdf"), kb=kb18)}


@pytest.fixture(scope="module")
def doms(reports: dict[str, list[Path]]) -> dict[str, str]:
    """The DOM of each language's page after its scripts ran (one Chromium run each)."""
    return {lang: chromium.dump_dom(paths[0]) for lang, paths in reports.items()}


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_kpis_shown_equal_summary_json(doms: dict[str, str], bank: tuple[Path, Summary], lang: str) -> None:
    dom = doms[lang]
    summary, t = bank[1], catalogue(lang)
    cards = {m.group(1): m.groups()[1:] for m in KPI_CARD.finditer(dom)}
    assert set(cards) == {"visibility", "detection", "blocking", "validated"}
    for kpi, (covered, total, percent, weighted, shown, plain) in cards.items():
        ratio = getattr(summary.kpis, kpi)
        assert (int(covered), int(total), float(percent), float(weighted)) == (
            ratio.covered, ratio.total, ratio.percent, ratio.weighted_percent)
        assert float(shown) == ratio.weighted_percent
        key = "kpi.plain_cells" if summary.summary_version >= 2 else "kpi.plain"  # v2 counts cells
        assert plain == t(key, percent=f"{ratio.percent:.1f}", covered=ratio.covered, total=ratio.total)
    assert f"<title>{t('title')} — 2026Q3</title>" in dom.replace("&amp;", "&")
    assert dom.count('class="main-svg"') >= 5  # plotly drew the trend, tactic and matrix figures


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_hostile_text_is_shown_and_never_runs(doms: dict[str, str], lang: str) -> None:
    dom = doms[lang]
    title = re.search(r"<title>([^<]*)</title>", dom)
    assert title and "pwned" not in title.group(1)  # the hostile script would have set document.title
    assert "&lt;script&gt;document.title=\"pwned\"&lt;/script&gt;" in dom  # shown as text
    assert "<script>document.title" not in dom and '<img src="x"' not in dom
    assert HOSTILE_TITLE not in dom and HOSTILE_DEVICE not in dom


def test_screenshot_is_not_blank(reports: dict[str, list[Path]], tmp_path: Path) -> None:
    png = chromium.screenshot(reports["en"][0], tmp_path / "report.png", 1300, 1200)
    with Image.open(png) as image:
        assert ImageStat.Stat(image.convert("L")).stddev[0] > 20  # blank / single colour pages are ~0
        assert len(image.convert("RGB").resize((200, 200)).getcolors(40000) or []) > 20


def test_pdf_pages_and_text(reports: dict[str, list[Path]], bank: tuple[Path, Summary]) -> None:
    pdf = reports["zh-TW"][1]
    assert pdf.suffix == ".pdf" and pdf.read_bytes().startswith(b"%PDF")
    if not shutil.which("pdftotext"):
        pytest.skip("poppler-utils not installed (apt-get install poppler-utils)")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]
    assert pages >= len(catalogue("en").messages) // 100  # more than a cover page: sections break pages
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    summary = bank[1]
    for kpi in ("visibility", "detection", "blocking", "validated"):
        ratio = getattr(summary.kpis, kpi)
        assert f"{ratio.weighted_percent:.1f}%" in text and f"{ratio.covered} / {ratio.total}" in text
    assert "Initial Access" in text and summary.scope.inventory_sha256 in text.replace("\n", "")
    has_cjk_font = subprocess.run(["fc-list", ":lang=zh-tw"], capture_output=True, text=True).stdout.strip()
    if has_cjk_font:  # without a CJK font Chromium prints empty boxes (install fonts-noto-cjk)
        assert catalogue("zh-TW")("title") in text and "管理摘要" in text
