"""The printed report of the demo's four-quarter history, in both languages: A4 pages with the classification,
institution and page numbers on every page, ids that never wrap (pdftotext sees every technique and action id
whole), the right score scales, no mostly-empty page. Needs headless Chromium and poppler-utils."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from report_demo import Demo, build_demo
from test_history_bank import QUARTERS

from detcov.attack import AttackKB
from detcov.outputs.history import open_history
from detcov.outputs.report import build_report, catalogue, report_data

pytestmark = pytest.mark.chromium
CLASSIFICATION = "CONFIDENTIAL 機密"
A4_POINTS = (595, 842)


@pytest.fixture(scope="module")
def demo(kb18: AttackKB, tmp_path_factory: pytest.TempPathFactory, browser: Path) -> Demo:
    if not shutil.which("pdftotext") or not shutil.which("pdftoppm"):
        pytest.skip("poppler-utils not installed (apt-get install poppler-utils)")
    return build_demo(tmp_path_factory.mktemp("demo"), kb18)


@pytest.fixture(scope="module")
def pdfs(demo: Demo, kb18: AttackKB, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("print")
    return {lang: build_report(demo.store, QUARTERS[-1], out, lang=lang, formats=("pdf",), kb=kb18,
                               classification=CLASSIFICATION, prepared_by="Alice Chen 陳小華")[0]
            for lang in ("en", "zh-TW")}


def pages_text(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [p for p in text.split("\f") if p.strip()]


def page_size(pdf: Path) -> tuple[int, int]:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert m
    return round(float(m.group(1))), round(float(m.group(2)))


def has_cjk_font() -> bool:
    return bool(subprocess.run(["fc-list", ":lang=zh-tw"], capture_output=True, text=True).stdout.strip())


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_every_page_has_header_and_number(pdfs: dict[str, Path], lang: str) -> None:
    if lang == "zh-TW" and not has_cjk_font():
        pytest.skip("no CJK font (apt-get install fonts-noto-cjk): Chromium prints empty boxes")
    pages, t = pages_text(pdfs[lang]), catalogue(lang)
    assert page_size(pdfs[lang]) == A4_POINTS and len(pages) >= 6
    for number, page in enumerate(pages, start=1):
        assert CLASSIFICATION in page and "Demo Bank 示範銀行" in page, number
        footer = f"{t('page.before')}{number}{t('page.middle')}{len(pages)}{t('page.after')}".strip()
        assert footer in page, (number, footer)


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_ids_never_wrap(demo: Demo, pdfs: dict[str, Path], lang: str) -> None:
    if lang == "zh-TW" and not has_cjk_font():
        pytest.skip("no CJK font (apt-get install fonts-noto-cjk)")
    text = "\n".join(pages_text(pdfs[lang]))
    data = report_data(open_history(demo.store), QUARTERS[-1])
    words = set(re.findall(r"\S+", text))
    for risk in data.risks:
        assert any(w.startswith(risk.technique) for w in words), risk.technique
    for tracked in data.tracking.actions:
        assert tracked.action.id in words, tracked.action.id
    for check in data.claims:
        assert check.technique.technique in words
    # no id cut in two: a "T" + digits fragment at a line end, continued on the next line
    assert not re.search(r"\bT\d{1,3}(\.\d{0,2})?\s*\n\s*\d", text)
    assert not re.search(r"\bA\d{4}Q\d-?\s*\n", text)


def test_scales_and_content(demo: Demo, pdfs: dict[str, Path]) -> None:
    en = "\n".join(pages_text(pdfs["en"]))
    assert "Blocking (0–3)" in en and "Blocking (0-4)" not in en and "Blocking (0–4)" not in en
    s = demo.summaries[QUARTERS[-1]]
    for kpi in ("visibility", "detection", "blocking", "validated"):
        assert f"{getattr(s.kpis, kpi).weighted_percent:.1f}%" in en
    for heading in ("Executive summary", "Key indicators against targets", "Action plan and follow-up",
                    "Regulatory and control mapping", "Evidence appendix", "Sign-off"):
        assert heading in en
    assert "A.8.16" in en and "Measure 5" in en and "DE.CM" in en and "Alice Chen" in en
    if has_cjk_font():
        zh = "\n".join(pages_text(pdfs["zh-TW"]))
        assert "管理摘要" in zh and "阻擋（0–3）" in zh and "簽核" in zh and "初始存取" in zh


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_no_mostly_empty_page(pdfs: dict[str, Path], tmp_path: Path, lang: str) -> None:
    subprocess.run(["pdftoppm", "-r", "20", "-gray", str(pdfs[lang]), str(tmp_path / "p")], check=True)
    images = sorted(tmp_path.glob("p-*.pgm"))
    for path in images[:-1]:  # the last page may end where the report ends
        with Image.open(path) as image:
            width, height = image.size
            px = image.load()
            top, bottom = int(height * 0.07), int(height * 0.93)  # inside the header and footer bands
            inked = [y for y in range(top, bottom) if any(px[x, y] < 200 for x in range(width))]
            assert inked and (max(inked) - top) / (bottom - top) > 0.5, path.name
