"""The demo bank's four-quarter history with its PDCA files: each quarter the scan is recorded, the action plan is
seeded from the top gaps (`actions init`), the SOC edits it as a person would (done, dropped, removed, in progress),
and plan + KPI targets are recorded (`actions record`). The edits are named here, so tests can say which action
must end in which follow-up state without hard-coding any technique.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from test_history_bank import QUARTERS, write_scan

from detcov.attack import AttackKB
from detcov.coverage.summary import Summary
from detcov.outputs.history import open_history, record_scan
from detcov.outputs.report import catalogue
from detcov.outputs.report.plan import init_plan, record_files
from detcov.userfiles import load_yaml, save_yaml

TOP = 6
MARGIN = 5.0


@dataclass(frozen=True)
class Demo:
    store: Path
    plan: Path
    targets: Path
    summaries: dict[str, Summary]
    ids: dict[str, list[str]]  # quarter -> ids of the actions its `init` added


def _edit(plan: Path, changes: dict[str, dict[str, str] | None]) -> None:
    """Apply the SOC's edits: a dict of fields to set, or None to delete the action from the file."""
    doc = load_yaml(plan)
    for index in reversed(range(len(doc["actions"]))):
        action = doc["actions"][index]
        change = changes.get(action["id"], {})
        if change is None:
            del doc["actions"][index]
        else:
            action.update(change)
    save_yaml(plan, doc)


def targets_text(summaries: dict[str, Summary]) -> str:
    """Targets around each quarter's real value: visibility met (green), detection 2 pts short (amber), blocking
    10 pts short (red), validated without a target."""
    lines = ["version: 1", "file_type: kpi-targets", f"amber_margin: {MARGIN}", "targets:"]
    for q, s in summaries.items():
        lines.append(f"  {q}: {{visibility: {s.kpis.visibility.weighted_percent - 5:.1f}, "
                     f"detection: {s.kpis.detection.weighted_percent + 2:.1f}, "
                     f"blocking: {s.kpis.blocking.weighted_percent + 10:.1f}}}")
    return "\n".join(lines) + "\n"


def edits(quarter: str, ids: dict[str, list[str]]) -> dict[str, dict[str, str] | None]:
    first = ids[QUARTERS[0]]
    if quarter == QUARTERS[1]:
        return {first[0]: {"status": "done", "closed": quarter}, first[1]: {"status": "dropped", "closed": quarter},
                first[2]: {"status": "in-progress"}}
    if quarter == QUARTERS[2]:
        return {first[2]: {"status": "done", "closed": quarter}, first[4]: {"status": "in-progress"}}
    if quarter == QUARTERS[3]:
        return {first[3]: None, first[4]: {"status": "done", "closed": quarter},
                first[5]: {"status": "dropped", "closed": quarter},
                ids[QUARTERS[2]][0]: {"status": "done", "closed": quarter}}
    return {}


def build_demo(root: Path, kb: AttackKB, *, hostile: bool = True) -> Demo:
    store, plan, targets = root / "h.sqlite", root / "action-plan.yaml", root / "kpi-targets.yaml"
    summaries = {}
    for step, quarter in enumerate(QUARTERS):
        summaries[quarter] = write_scan(root / quarter, kb, step, hostile=hostile and quarter == QUARTERS[-1])
        record_scan(store, quarter, root / quarter)
    targets.write_text(targets_text(summaries), encoding="utf-8")
    ids: dict[str, list[str]] = {}
    history = open_history(store)
    for quarter in QUARTERS:
        before = set(_ids(plan))
        init_plan(plan, history.load(quarter), catalogue("en"), owner="SOC team", top=TOP)
        ids[quarter] = [i for i in _ids(plan) if i not in before]
        _edit(plan, edits(quarter, ids))
        record_files(store, quarter, actions=plan, targets=targets)
    return Demo(store, plan, targets, summaries, ids)


def _ids(plan: Path) -> list[str]:
    if not plan.exists():
        return []
    return [str(a["id"]) for a in load_yaml(plan)["actions"]]
