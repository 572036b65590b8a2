"""Quarterly report without a browser: catalogues, HTML structure and escaping, KPIs and deltas, version notes,
XLSX tables, formats and languages, the missing-Chromium error and the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from markupsafe import escape
from test_history_bank import HOSTILE_DEVICE, HOSTILE_TITLE, QUARTERS, write_scan

from detcov.attack import AttackKB
from detcov.cli import main as cli_main
from detcov.coverage.summary import Summary
from detcov.errors import DetcovError
from detcov.outputs import chromium
from detcov.outputs.excel import sheet_names
from detcov.outputs.heatmap import get_plotlyjs
from detcov.outputs.history import open_history, record_scan
from detcov.outputs.report import build_report, catalogue, parse_formats, parse_language, report_data
from detcov.outputs.report.i18n import placeholders


@pytest.fixture(scope="module")
def store(kb18: AttackKB, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bank")
    for step, quarter in enumerate(QUARTERS):
        write_scan(root / quarter, kb18, step, hostile=quarter == QUARTERS[-1])
        record_scan(root / "h.sqlite", quarter, root / quarter)
    return root / "h.sqlite"


@pytest.fixture(scope="module")
def pages(store: Path, kb18: AttackKB, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("report")
    return {lang: build_report(store, "2026Q3", out, lang=lang, formats=("html", "xlsx"), kb=kb18)[0]
            for lang in ("en", "zh-TW")}


def esc(text: str) -> str:
    """Text as Jinja2's autoescape writes it."""
    return str(escape(text))


def summary_of(store: Path, quarter: str) -> Summary:
    return open_history(store).load(quarter).summary


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    en, zh = catalogue("en"), catalogue("zh-TW")
    assert set(en.messages) == set(zh.messages) and len(en.messages) > 100
    assert {k: placeholders(v) for k, v in en.messages.items()} == {k: placeholders(v) for k, v in zh.messages.items()}
    assert sum(v != zh.messages[k] for k, v in en.messages.items()) > 100  # really translated
    assert parse_language("zh_tw") == "zh-TW" and parse_language("EN") == "en"
    with pytest.raises(DetcovError, match="zh-TW"):
        parse_language("fr")


def test_every_catalogue_key_is_used() -> None:
    root = Path(__file__).resolve().parent.parent / "detcov" / "outputs" / "report"
    code = "".join(p.read_text("utf-8") for p in [*root.glob("*.py"), root / "templates" / "report.html.j2"])
    dynamic = ("section.", "kpi.", "gap.", "health.", "verdict.", "change.", "heatmap.", "col.", "method.", "rag.",
               "track.", "status.", "tactic.", "impact.", "kind.", "criticality.", "action.", "csf.", "control.",
               "framework.", "result.", "reckind.", "signoff.")
    unused = [k for k in catalogue("en").messages
              if f"'{k}'" not in code and f'"{k}"' not in code and not k.startswith(dynamic)]
    assert unused == ["lang_name"]


def test_kpis_and_deltas_in_the_html(store: Path, pages: dict[str, Path]) -> None:
    page = pages["en"].read_text("utf-8")
    now, before = summary_of(store, "2026Q3"), summary_of(store, "2026Q2")
    for kpi in ("visibility", "detection", "blocking", "validated"):
        ratio = getattr(now.kpis, kpi)
        card = re.search(rf'<div class="kpi rag-\w+" data-kpi="{kpi}"(.*?)</div>\s*</div>', page, re.S)
        assert card, kpi
        assert f'<span class="kpi-weighted">{ratio.weighted_percent:.1f}%</span>' in card.group(1)
        assert f"({ratio.covered} / {ratio.total})" in card.group(1)
        delta = ratio.weighted_percent - getattr(before.kpis, kpi).weighted_percent
        assert f"{delta:+.1f} pts" in card.group(1) and "vs 2026 Q2" in card.group(1)
        assert "no quarter recorded a year ago" in card.group(1)  # 2025Q3 is not recorded


def test_self_contained_and_escaped(pages: dict[str, Path]) -> None:
    page = pages["en"].read_text("utf-8")
    library = get_plotlyjs()
    assert page.count(library) == 1
    rest = page.replace(library, "")
    assert not re.search(r"<script[^>]*\bsrc=", rest) and "https://" not in rest and "http://" not in rest
    assert rest.count("Plotly.newPlot(") == 5  # trend, tactics, three matrices
    assert HOSTILE_TITLE not in page and esc(HOSTILE_TITLE) in page
    assert HOSTILE_DEVICE not in page and esc(HOSTILE_DEVICE) in page
    assert "<i>zeek:http</i>" not in page and "&lt;i&gt;zeek:http&lt;/i&gt;" in page
    assert len(re.findall(r"<script", rest)) == 1 + 5  # the library tag and one per figure, nothing else


def test_both_languages_label_from_their_catalogue(pages: dict[str, Path]) -> None:
    for lang, page_path in pages.items():
        page, t = page_path.read_text("utf-8"), catalogue(lang)
        assert f'<html lang="{t.html_lang}">' in page
        for key in ("title", "section.summary", "section.risks", "section.evidence", "kpi.detection"):
            assert esc(t(key)) in page, (lang, key)
        assert "Initial Access" in page  # ATT&CK names stay English
    zh = pages["zh-TW"].read_text("utf-8")
    assert "Executive summary" not in zh and "管理摘要" in zh


def test_sections_have_their_content(store: Path, pages: dict[str, Path]) -> None:
    page, s = pages["en"].read_text("utf-8"), summary_of(store, "2026Q3")
    for gap in s.top_gaps[:10]:  # ids in a no-wrap span; the action worded from the gap class
        assert f'<span class="id">{gap.technique}</span>' in page
    assert esc(catalogue("en")("action.blind")) in page
    for tactic in s.per_tactic:
        assert f"<td class=\"\">{esc(tactic.name)}</td>" in page
    assert f"{s.scope.inventory_sha256}</td>" in page and f"{s.scope.rules_sha256}</td>" in page
    assert "R019" in page and "zeek:dns" in page  # newly broken rule, with its missing log source
    assert "Changes since 2026 Q2" in page


def test_xlsx_has_the_same_tables(store: Path, pages: dict[str, Path]) -> None:
    book = pd.read_excel(pages["en"].with_suffix(".xlsx"), sheet_name=None)
    s = summary_of(store, "2026Q3")
    assert {"KPIs", "Trends", "Coverage per ATT&CK tactic", "Rule health", "Evidence appendix"} <= set(book)
    trends = book["Trends"]
    assert list(trends["Quarter"]) == [catalogue("en").quarter(q) for q in QUARTERS]
    assert list(trends["Devices sending logs"]) == [3, 4, 5, 7]  # the hostile device of 2026Q3 sends too
    kpis = book["KPIs"].set_index("KPI")  # headers over their own values (they were swapped)
    assert kpis.loc["Detection coverage", "Covered"] == s.kpis.detection.covered
    assert kpis.loc["Detection coverage", "In scope"] == s.kpis.detection.total
    details = book["Risk details"]
    assert list(details["Scanner's next step (as written)"]) == [g.action for g in s.top_gaps]
    assert list(trends["Detection %"])[-1] == s.kpis.detection.weighted_percent
    broken_title = catalogue("en")("health.broken_list")
    broken = book[sheet_names([broken_title])[broken_title]]
    assert HOSTILE_TITLE in set(broken["Title"])  # text, as written
    zh = pd.read_excel(pages["zh-TW"].with_suffix(".xlsx"), sheet_name=None)
    assert "趨勢" in zh and list(zh["趨勢"]["季度"]) == ["2025年第4季", "2026年第1季", "2026年第2季", "2026年第3季"]


def test_version_change_is_reported(kb18: AttackKB, tmp_path: Path) -> None:
    write_scan(tmp_path / "old", kb18, 0, version="17.1")
    write_scan(tmp_path / "new", kb18, 1)
    record_scan(tmp_path / "h.sqlite", "2026Q1", tmp_path / "old")
    record_scan(tmp_path / "h.sqlite", "2026Q2", tmp_path / "new")
    data = report_data(open_history(tmp_path / "h.sqlite"), "2026Q2", kb18)
    assert [(n.quarter, n.old, n.new) for n in data.version_notes] == [("2026Q1", "17.1", "18.1")]
    assert data.diff is not None and data.diff.normalised_with == "18.1"
    page = build_report(tmp_path / "h.sqlite", "2026Q2", tmp_path / "out", kb=kb18)[0].read_text("utf-8")
    assert "ATT&amp;CK versions differ: 2026 Q1 was scanned with ATT&amp;CK 17.1, this quarter with 18.1." in page
    assert "id normaliser" in page


def test_without_the_attack_bundle_heatmaps_are_left_out(store: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from detcov.attack import sources

    monkeypatch.delenv("DETCOV_ATTACK_DATA", raising=False)
    monkeypatch.setattr(sources, "embedded_bundle", lambda: None)  # no shipped bundle either
    page = build_report(store, "2025Q4", tmp_path, lang="zh-TW")[0].read_text("utf-8")
    assert "無法取得 ATT&amp;CK 18.1 資料" in page and page.count("Plotly.newPlot(") == 2
    assert esc(catalogue("zh-TW")("changes.none")) in page  # the first quarter has nothing to compare


def test_formats_and_errors(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_formats("html, PDF,xlsx,html") == ["html", "pdf", "xlsx"] == parse_formats(["html,pdf", "xlsx"])
    with pytest.raises(DetcovError, match="docx"):
        parse_formats("docx")
    with pytest.raises(DetcovError, match="2024Q1 is not recorded"):
        build_report(store, "2024Q1", tmp_path)
    monkeypatch.setattr(chromium, "find_chromium", lambda: None)
    with pytest.raises(DetcovError, match="apt-get install chromium"):
        build_report(store, "2026Q3", tmp_path / "pdf", formats=("pdf",))
    assert not (tmp_path / "pdf").exists()  # failed before writing anything


def test_cli_report_and_history(store: Path, tmp_path: Path, bundle18: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(cli_main.cli, ["report", "--quarter", "2026q3", "--store", str(store), "--lang", "zh-TW",
                                        "--format", "xlsx", "--out", str(tmp_path), "--attack", str(bundle18)])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "report-2026Q3-zh-TW.xlsx").is_file()
    listed = runner.invoke(cli_main.cli, ["history", "list", "--store", str(store)], terminal_width=200)
    assert listed.exit_code == 0 and all(q in listed.output for q in QUARTERS)
    s = summary_of(store, "2026Q3")
    assert f"{s.kpis.detection.weighted_percent:.1f}%" in listed.output
    diff = runner.invoke(cli_main.cli, ["history", "diff", "2026Q2", "2026Q3", "--store", str(store)],
                         terminal_width=200)
    assert diff.exit_code == 0 and "rules newly broken: 2" in diff.output and HOSTILE_DEVICE in diff.output
    with pytest.raises(SystemExit) as stop:
        cli_main.main(["history", "record", "--scan-dir", str(tmp_path / "none"), "--quarter", "2026Q3",
                       "--store", str(store)])
    assert stop.value.code == 2
    exported = runner.invoke(cli_main.cli, ["history", "export", "--out", str(tmp_path / "x.xlsx"),
                                            "--store", str(store)])
    assert exported.exit_code == 0
    techniques = pd.read_excel(tmp_path / "x.xlsx", sheet_name="techniques")
    assert set(techniques["quarter"]) == set(QUARTERS)
