"""The board-grade report without a browser: KPI targets and RAG, the action plan tracked across quarters (PDCA),
plan/targets files validated like every user file, v1 records that say what they lack, v2 fields read when present,
and every generated zh-TW sentence written in Chinese (the catalogue parity test, extended to generated text)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field
from report_demo import MARGIN, Demo, build_demo
from test_history_bank import QUARTERS, write_scan

from detcov.attack import AttackKB
from detcov.coverage.summary import GapItem, Kpis, Ratio, Summary
from detcov.errors import DetcovError
from detcov.outputs.history import open_history, record_scan
from detcov.outputs.history.actions import read_plans
from detcov.outputs.report import build_report, catalogue, compat, report_data
from detcov.outputs.report.board import kpi_statuses, rag, top_risks
from detcov.outputs.report.narrative import executive_summary
from detcov.outputs.report.plan import init_plan, load_plan, load_targets, record_files
from detcov.outputs.report.tables import crown_table, report_tables
from detcov.outputs.report.tracking import track

Q4, Q1, Q2, Q3 = QUARTERS


@pytest.fixture(scope="module")
def demo(kb18: AttackKB, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return build_demo(tmp_path_factory.mktemp("demo"), kb18)


@pytest.fixture(scope="module")
def pages(demo: Demo, kb18: AttackKB, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("out")
    return {lang: build_report(demo.store, Q3, out, lang=lang, kb=kb18)[0].read_text("utf-8")
            for lang in ("en", "zh-TW")}


def states(demo: Demo, quarter: str) -> dict[str, str]:
    snap = open_history(demo.store).load(quarter)
    return {a.action.id: a.state for a in track(read_plans(demo.store), quarter, snap.techniques).actions}


# ----- targets and RAG ----------------------------------------------------------------------------------------------
def test_rag_bands() -> None:
    assert [rag(v, 60.0, 5.0) for v in (60.0, 70.0, 55.0, 54.9)] == ["green", "green", "amber", "red"]
    assert rag(10.0, None, 5.0) == "none"


def test_targets_and_rag_in_the_report(demo: Demo, pages: dict[str, str]) -> None:
    data = report_data(open_history(demo.store), Q3)
    s = demo.summaries[Q3]
    status = data.status
    assert data.targets_from == Q3
    assert status["visibility"].target == round(s.kpis.visibility.weighted_percent - 5, 1)
    assert (status["visibility"].rag, status["detection"].rag, status["blocking"].rag, status["validated"].rag) == (
        "green", "amber", "red", "none")
    assert status["detection"].margin == MARGIN
    for kpi, st in status.items():  # the card says the same
        assert re.search(rf'data-kpi="{kpi}"[^>]*data-rag="{st.rag}"', pages["en"]), kpi
    summary = executive_summary(data, catalogue("en"))
    assert summary.targets is not None and summary.targets.startswith("1 of 3 KPI targets met.")
    assert "Detection coverage" in summary.targets and "Blocking coverage" in summary.targets
    zh = executive_summary(data, catalogue("zh-TW"))
    assert zh.targets is not None and zh.targets.startswith("3 項指標目標中達成 1 項。")


def test_targets_carry_forward(demo: Demo, tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("version: 1\nfile_type: kpi-targets\ntargets:\n  2026q1: {detection: 50}\n"
                    "  2026Q3: {detection: 70, blocking: 40}\n", encoding="utf-8")
    targets = load_targets(path)
    assert [targets.target(q, "detection") for q in ("2025Q4", "2026Q1", "2026Q2", "2026Q3")] == [None, 50, 50, 70]
    assert targets.target("2026Q2", "blocking") is None


@pytest.mark.parametrize(("text", "message", "line"), [
    ("targets:\n  2026Q5: {detection: 50}\n", "'2026Q5' is not a quarter", 3),
    ("targets:\n  2026Q1: {detection: 150}\n", "not a percentage", 3),
    ("targets:\n  2026Q1: {detecton: 50}\n", "detecton", 4),
    ("amber_margins: 3\n", "did you mean 'amber_margin'", 3),
])
def test_bad_targets_files(tmp_path: Path, text: str, message: str, line: int) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("version: 1\nfile_type: kpi-targets\n" + text, encoding="utf-8")
    with pytest.raises(DetcovError) as err:
        load_targets(path)
    shown = str(err.value) + " ".join(f"{i.location} {i.hint}" for i in err.value.issues)
    assert message in shown and f"{path}:{line}" in shown


# ----- the action plan across quarters ------------------------------------------------------------------------------
def test_tracking_across_quarters(demo: Demo) -> None:
    first, q1, q2, q3 = (demo.ids[q] for q in QUARTERS)
    assert len(first) >= 6 and q1 and q2 and q3  # every quarter's init added actions
    at_q1 = states(demo, Q1)
    assert (at_q1[first[0]], at_q1[first[1]], at_q1[first[2]]) == ("done", "dropped", "late")  # due 2026Q1
    assert all(at_q1[i] == "on-track" for i in q1)
    at_q2 = states(demo, Q2)
    assert (at_q2[first[0]], at_q2[first[1]], at_q2[first[2]]) == ("closed", "closed", "done-late")
    assert at_q2[first[4]] == "late" and all(at_q2[i] == "late" for i in q1)  # due 2026Q2, not done
    at_q3 = states(demo, Q3)
    assert at_q3[first[3]] == "removed"  # deleted from the file while open: dropped without a decision
    assert (at_q3[first[4]], at_q3[first[5]], at_q3[q2[0]]) == ("done-late", "dropped", "done")
    assert all(at_q3[i] == "on-track" for i in q3)
    assert all(at_q3[i] == "closed" for i in first[:3])
    data = report_data(open_history(demo.store), Q3)
    tracked = {a.action.id: a for a in data.tracking.actions}
    assert tracked[first[4]].statuses == ((Q4, "open"), (Q1, "open"), (Q2, "in-progress"), (Q3, "done"))
    assert all(tracked[i].new for i in q3) and not tracked[first[4]].new
    assert data.tracking.due == data.tracking.count("done", "done-late", "late", "dropped", "removed")
    effect = tracked[first[4]].effect
    row = {r.technique: r for r in data.snapshot.techniques}[tracked[first[4]].action.techniques[0]]
    assert effect is not None and effect.total == 1 and effect.covered == int(row.visibility >= 1)


def test_action_plan_in_the_report(demo: Demo, pages: dict[str, str]) -> None:
    data = report_data(open_history(demo.store), Q3)
    tables = report_tables(data, catalogue("en"))
    rows = {r[0]: r for r in tables["actions"].rows}
    first = demo.ids[Q4]
    assert rows[first[3]][5] == "removed without a decision" and rows[first[4]][5] == "done late"
    history = {r[0]: r[1:] for r in tables["action_history"].rows}
    assert history[first[4]] == ("open", "open", "in progress", "done")
    for state in ("done", "done-late", "late", "on-track", "dropped", "removed"):
        assert f'data-track="{state}" data-count="{data.tracking.count(state)}"' in pages["en"]
    line = executive_summary(data, catalogue("en")).actions
    assert line == (f"Action plan: {data.tracking.due} actions came due — {data.tracking.count('done', 'done-late')} "
                    f"done, {data.tracking.count('late')} late, {data.tracking.count('dropped', 'removed')} dropped; "
                    f"{data.tracking.count('on-track')} more are on track.")
    zh_rows = {r[0]: r for r in report_tables(data, catalogue("zh-TW"))["actions"].rows}
    assert zh_rows[first[4]][1].endswith("蒐集此技術所需的遙測資料並送入 SIEM")  # unedited seeded title, in zh


def test_init_adds_new_gaps_only_and_keeps_edits(demo: Demo, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(demo.plan.read_text("utf-8").replace("owner: SOC team", "owner: Mei 美玲  # named by CISO", 1),
                    encoding="utf-8")
    before = load_plan(plan)[0]
    snap = open_history(demo.store).load(Q3)
    added, kept = init_plan(plan, snap, catalogue("en"), top=8)
    after = load_plan(plan)[0]
    assert kept == len(before.actions) and after.actions[:kept] == before.actions  # nothing of the user's changed
    tracked = {a.source for a in before.actions}
    assert added == len([g for g in snap.summary.top_gaps[:8] if f"gap:{g.technique}" not in tracked]) > 0
    assert init_plan(plan, snap, catalogue("en"), top=8) == (0, kept + added)  # idempotent
    text = plan.read_text("utf-8")
    assert "owner: Mei 美玲  # named by CISO" in text and text.startswith("# detcov action plan")


def test_recording_replaces_only_its_quarter(demo: Demo, tmp_path: Path) -> None:
    store = tmp_path / "h.sqlite"
    store.write_bytes(demo.store.read_bytes())
    before = read_plans(store)
    record_files(store, Q3, targets=demo.targets)  # targets only: the actions of Q3 stay
    after = read_plans(store)
    assert after.actions == before.actions and after.targets == before.targets


@pytest.mark.parametrize(("edit", "message"), [
    (lambda s: s.replace("due: 2026Q1", "due: 2026 Q5", 1), "'2026 Q5' is not a quarter"),
    (lambda s: s.replace("status: done", "status: finished", 1), "status"),
    (lambda s: s.replace("owner: SOC team", "owners: SOC team", 1), "did you mean 'owner'"),
    (lambda s: re.sub(r"^ *closed: 2026Q1\n", "", s, count=1, flags=re.M), "no closed quarter"),
    (lambda s: s.replace("id: A2025Q4-02", "id: A2025Q4-01", 1), "used twice"),
])
def test_bad_plan_files(demo: Demo, tmp_path: Path, edit: Any, message: str) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(edit(demo.plan.read_text("utf-8")), encoding="utf-8")
    with pytest.raises(DetcovError) as err:
        load_plan(plan)
    shown = str(err.value) + " ".join(f"{i.location} {i.hint}" for i in err.value.issues)
    assert message in shown and re.search(rf"{re.escape(str(plan))}:\d+", shown), shown


def test_cli_actions(demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import run_cli

    store = tmp_path / "h.sqlite"
    store.write_bytes(demo.store.read_bytes())
    plan = tmp_path / "plan.yaml"
    code, out, _ = run_cli(capsys, "report", "actions", "init", "--quarter", Q3, "--store", str(store),
                           "--out", str(plan), "--lang", "zh-TW", "--owner", "資安科")
    assert code == 0 and "actions added" in " ".join(out.split())
    assert "蒐集此技術所需的遙測資料並送入 SIEM" in plan.read_text("utf-8")
    code, out, _ = run_cli(capsys, "report", "actions", "record", "--quarter", Q3, "--store", str(store),
                           "--actions", str(plan))
    assert code == 0 and f"for {Q3}" in " ".join(out.split())
    code, out, _ = run_cli(capsys, "report", "actions", "status", "--quarter", Q3, "--store", str(store))
    assert code == 0 and "on track" in out
    plan.write_text(plan.read_text("utf-8").replace("due:", "due_q:", 1), encoding="utf-8")
    code, _, err = run_cli(capsys, "report", "actions", "record", "--quarter", Q3, "--store", str(store),
                           "--actions", str(plan))
    assert code == 2 and f"{plan}:" in err and "due_q" in err
    code, _, err = run_cli(capsys, "report", "--store", str(store))
    assert code == 2 and "--quarter" in err


# ----- v1 records and v2 fields --------------------------------------------------------------------------------------
V2_KEYS = ("system_groups", "not_observable", "not_applicable", "distribution", "hardening", "as_of")
V2_RATIO_KEYS = ("threshold", "proven_percent", "weakest_group", "weakest_percent", "best_group", "best_percent")


def as_v1(scan: Path) -> None:
    """Rewrite a scan folder's summary.json as an older detcov wrote it (summary version 1, no v2 keys)."""
    data = json.loads((scan / "summary.json").read_text("utf-8"))
    data = {k: v for k, v in data.items() if k not in V2_KEYS} | {"summary_version": 1}
    data["kpis"] = {k: {f: x for f, x in r.items() if f not in V2_RATIO_KEYS} for k, r in data["kpis"].items()}
    data["top_gaps"] = [{f: x for f, x in g.items() if f not in ("group", "criticality", "evidence")}
                        for g in data["top_gaps"]]
    (scan / "summary.json").write_text(json.dumps(data), encoding="utf-8")


def test_a_v1_record_says_what_it_lacks(kb18: AttackKB, tmp_path: Path) -> None:
    write_scan(tmp_path / "scan", kb18, 1)
    as_v1(tmp_path / "scan")
    record_scan(tmp_path / "h.sqlite", Q1, tmp_path / "scan")
    data = report_data(open_history(tmp_path / "h.sqlite"), Q1)
    assert data.summary_version == 1 and data.groups is None
    for lang in ("en", "zh-TW"):
        page = build_report(tmp_path / "h.sqlite", Q1, tmp_path / "out", lang=lang, kb=kb18)[0].read_text("utf-8")
        t = catalogue(lang)
        assert 'data-summary-version="1"' in page and 'data-notice="v1"' in page
        assert str(t("crown.unavailable", version=1)) in page.replace("&#39;", "'"), lang
        assert 'data-notice="no-plan"' in page  # no action plan recorded: says how to start one


class RatioV2(Ratio):
    weakest_group: str | None = None
    weakest_percent: float | None = None
    proven_percent: float | None = None


class KpisV2(Kpis):
    detection: RatioV2


class GapV2(GapItem):
    group: str = ""
    criticality: int | None = None


class SummaryV2(Summary):
    """What the lead's SUMMARY_VERSION 2 adds (the report must read it without depending on its exact types)."""

    kpis: KpisV2
    top_gaps: list[GapV2] = Field(default_factory=list)  # type: ignore[assignment]
    system_groups: list[dict[str, Any]] = Field(default_factory=list)


def v2_summary(s: Summary) -> SummaryV2:
    kpis = s.kpis.model_dump()
    kpis["detection"] |= {"weakest_group": "Core banking", "weakest_percent": 21.5, "proven_percent": 12.0}
    gaps = [g.model_dump() | {"group": "Core banking", "criticality": 5} for g in s.top_gaps]
    return SummaryV2.model_validate(s.model_dump() | {"summary_version": 2, "kpis": kpis, "top_gaps": gaps,
                                                      "system_groups": [
        {"name": "Core banking", "criticality": 5, "kind": "core-banking", "techniques": 120, "visibility": 60.0,
         "detection": 21.5, "blocking": 10.0, "validated": 5.0, "detection_proven": 3.0, "blind": 30, "rule_gap": 40,
         "broken": 2, "contradicted": 1},
        {"name": "Lab", "criticality": 1, "kind": "other", "techniques": 80, "detection": 90.0}]})


def test_v2_fields_are_read(demo: Demo) -> None:
    data = report_data(open_history(demo.store), Q3)
    v2 = v2_summary(data.summary)
    groups = compat.system_groups(v2)
    assert groups is not None and [g.name for g in groups] == ["Core banking", "Lab"] and groups[0].critical
    statuses = {s.key: s for s in kpi_statuses(v2, {})}
    assert statuses["detection"].weakest == compat.Weakest("Core banking", 21.5)
    assert statuses["detection"].proven == 12.0 and statuses["blocking"].proven is None
    risks = top_risks(v2)
    assert risks[0].group == "Core banking" and risks[0].criticality == 5 and risks[0].kind == "core-banking"
    data2 = dataclasses.replace(data, statuses=tuple(statuses.values()), groups=groups, risks=risks)
    crown = crown_table(data2, catalogue("zh-TW"))
    assert [r[0] for r in crown.rows] == ["Core banking"] and crown.rows[0][1] == "關鍵程度 5：核心資產"
    en, zh = executive_summary(data2, catalogue("en")), executive_summary(data2, catalogue("zh-TW"))
    assert en.weakest == "The weakest critical system group is Core banking: detection 21.5%, against 64.5% overall."
    assert zh.weakest == "最弱的關鍵系統群組為「Core banking」：偵測涵蓋率 21.5%，整體為 64.5%。"
    assert "Core banking (criticality 5: crown jewel)" in en.risks[0] and "core banking" in en.risks[0]
    assert "核心帳務系統" in zh.risks[0]


# ----- every generated sentence exists in both languages, and zh-TW is Chinese ---------------------------------------
ALLOWED = {"SIEM", "ATT", "CK", "DeTT", "CT", "CRI", "NIST", "CSF", "ISO", "IEC", "sha256", "detcov", "APT",
           "Profile", "HTML", "summary", "json", "SOC", "Mappings", "Explorer", "Apache", "MITRE", "Cyber", "Risk",
           "Institute", "FSC", "Check", "pts", "kpi", "targets", "actions", "record", "init", "report", "Windows",
           "Linux", "user", "host", "SWIFT", "WAF", "team"}


def latin_words(text: str, allowed: set[str], user: tuple[str, ...] = ()) -> set[str]:
    """Latin words of ``text`` that are not ids, names or the institution's own data (``user``, removed first)."""
    for name in user:
        text = text.replace(name, " ")
    return {w for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", text) if w not in allowed}


def test_generated_zh_text_is_chinese(demo: Demo, kb18: AttackKB) -> None:
    data = report_data(open_history(demo.store), Q3)
    names = {w for t in kb18.techniques() for w in re.findall(r"[A-Za-z'-]+", t.name)}
    names |= {w for t in kb18.tactics for w in t.name.split()}
    user = tuple(sorted({d.device for d in data.snapshot.devices} | {data.summary.scope.institution}, key=len,
                        reverse=True))
    allowed = ALLOWED | names
    en, zh = executive_summary(data, catalogue("en")), executive_summary(data, catalogue("zh-TW"))
    assert [f is None for f in dataclasses.astuple(en)] == [f is None for f in dataclasses.astuple(zh)]
    sentences = [zh.headline, zh.improved, zh.worse, zh.targets, zh.weakest, zh.actions, *zh.risks]
    tables = report_tables(data, catalogue("zh-TW"))
    generated = ["kpis", "risks", "actions", "action_history", "changelog", "tactics", "distribution", "controls",
                 "rule_health", "validation"]
    cells = [str(c) for key in generated for row in tables[key].rows for c in row]
    cells += [c for key in generated for c in tables[key].columns]
    cells += [str(r[3]) for r in tables["broken_rules"].rows]  # health codes
    leftovers = {text: latin_words(text, allowed, user) for text in [*(s for s in sentences if s), *cells]}
    assert {k: v for k, v in leftovers.items() if v} == {}
    zh_t = catalogue("zh-TW")
    for key in ("method.text", "heatmaps.print", "controls.intro", "crown.intro", "risks.intro", "kpis.intro"):
        text = zh_t(key, visibility=1, detection=1, blocking=1, margin=5) if "{" in zh_t.messages[key] else zh_t(key)
        assert not latin_words(text, allowed), key


# ----- the fixes the review asked for --------------------------------------------------------------------------------
def test_validation_sentence_counts_the_rows_it_shows(demo: Demo, pages: dict[str, str]) -> None:
    data = report_data(open_history(demo.store), Q3)
    verdicts = [r[4] for r in report_tables(data, catalogue("en"))["validation"].rows]
    t = catalogue("en")
    counts = {v: verdicts.count(t(f"verdict.{v}")) for v in ("confirmed", "contradicted", "unclaimed", "unproven")}
    assert sum(counts.values()) == len(verdicts) == len(data.claims) > 0
    assert t("validation.summary", tests=len(verdicts), **counts) in pages["en"].replace("&#39;", "'")


def test_change_log_says_why(demo: Demo) -> None:
    data = report_data(open_history(demo.store), Q3)
    log = {r[0]: r[2] for r in report_tables(data, catalogue("en"))["changelog"].rows}
    assert log["2025 Q4"] == "3 of 3 devices send logs to the SIEM"
    assert log["2026 Q1"].startswith("CrowdStrike Falcon started sending logs to the SIEM (+1)")
    assert "actions completed: 2" in log["2026 Q3"]  # done in 2026Q3: first[4] and the first 2026Q2 action
    assert "rules newly broken, their log source no longer collected: 2" in log["2026 Q3"]


def test_xlsx_columns_fit_cjk(demo: Demo, kb18: AttackKB, tmp_path: Path) -> None:
    import openpyxl

    from detcov.outputs.excel import MAX_WIDTH, text_width

    path = build_report(demo.store, Q3, tmp_path, lang="zh-TW", formats=("xlsx",), kb=kb18)[0]
    book = openpyxl.load_workbook(path)
    sheet = book["改善行動計畫與追蹤"]
    for column in sheet.iter_cols(min_row=1, max_row=sheet.max_row):
        letter = column[0].column_letter
        width = sheet.column_dimensions[letter].width
        longest = max(text_width(str(c.value or "")) for c in column)
        assert width >= min(longest, MAX_WIDTH) * 0.9 or column[1].alignment.wrap_text, (letter, width, longest)


def test_devices_sending_logs_read_from_siem_lists() -> None:
    """Newer scans write the SIEM ids a device sends to (``splunk;sentinel``) where older ones wrote True/False."""
    from detcov.outputs.history.snapshot import DeviceRow, row_from

    rows = [row_from(DeviceRow, {"device": d, "type": "edr", "siem": v})
            for d, v in (("a", "splunk;sentinel"), ("b", "True"), ("c", ""), ("d", "False"), ("e", "0"))]
    assert [r.siem for r in rows] == [True, True, False, False, False]
