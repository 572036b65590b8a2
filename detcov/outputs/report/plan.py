"""The two user files of the quarterly report's PDCA loop: KPI targets and the action plan.

``kpi-targets.yaml`` (``file_type: kpi-targets``) sets a target per KPI per quarter::

    version: 1
    file_type: kpi-targets
    amber_margin: 5            # points below the target that still count as amber (default 5)
    targets:
      2026Q3: {visibility: 80, detection: 55, blocking: 30, validated: 15}

``action-plan.yaml`` (``file_type: action-plan``) lists the actions, each with an owner, a due quarter and a status;
``detcov report actions init`` seeds it from the quarter's gaps and recommendations. Both are validated like every
user file (unknown keys, bad quarters, duplicate ids: ``file:line:col`` and a hint, all together).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from detcov.errors import DetcovError, Issue, Location
from detcov.fileio import atomic_write
from detcov.outputs.history.actions import ActionState, PlanFileRecord, Target, file_sha256, record_plan
from detcov.outputs.history.quarters import parse_quarter, quarter_key, shift
from detcov.outputs.history.snapshot import Snapshot
from detcov.outputs.report.board import Risk, top_risks
from detcov.outputs.report.i18n import LANGUAGES, Catalogue, catalogue
from detcov.outputs.report.narrative import action_text
from detcov.userfiles import UserModel, dump_yaml, load_user_file, position, save_yaml

TARGETS_FILE_TYPE = "kpi-targets"
PLAN_FILE_TYPE = "action-plan"
VERSIONS = (1,)
KpiName = Literal["visibility", "detection", "blocking", "validated"]


class Status(StrEnum):
    """Where an action stands, as its owner records it."""

    OPEN = "open"
    IN_PROGRESS = "in-progress"
    DONE = "done"
    DROPPED = "dropped"


def _quarter(value: str) -> str:
    try:
        return parse_quarter(str(value))
    except DetcovError as exc:
        raise ValueError(f"{value!r} is not a quarter; write it as YYYYQn, e.g. 2026Q3") from exc


class TargetsFile(UserModel):
    version: Literal[1] = 1
    file_type: Literal["kpi-targets"]
    amber_margin: float = Field(5.0, ge=0, le=100)
    targets: dict[str, dict[KpiName, float]] = Field(default_factory=dict)  # quarter -> KPI -> percent

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        out = {}
        for quarter, kpis in value.items():
            for kpi, target in kpis.items():
                if not 0 <= target <= 100:
                    raise ValueError(f"{quarter}.{kpi}: target {target} is not a percentage 0..100")
            out[_quarter(quarter)] = dict(kpis)
        return out

    def target(self, quarter: str, kpi: str) -> float | None:
        """The target of ``kpi`` for ``quarter``: the latest one set at or before it (targets carry forward)."""
        key = quarter_key(quarter)
        set_before = [q for q, kpis in self.targets.items() if quarter_key(q) <= key and kpi in kpis]
        if not set_before:
            return None
        latest = self.targets[max(set_before, key=quarter_key)]
        return float(next(v for k, v in latest.items() if k == kpi))


class Action(UserModel):
    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    owner: str = ""
    due: str
    status: Status = Status.OPEN
    opened: str | None = None
    closed: str | None = None  # the quarter it was done or dropped in
    source: str = ""  # gap:T1059.003 | gap:T1059.003@Core banking | recommendation:<target> | manual
    techniques: list[str] = Field(default_factory=list)
    kpi: KpiName | None = None
    gap: str = ""  # the gap class it was seeded from (lets the report word an unedited title in its language)
    detail: str = ""
    note: str = ""

    @field_validator("due", "opened", "closed")
    @classmethod
    def _quarters(cls, value: str | None) -> str | None:
        return None if value is None else _quarter(value)


class PlanFile(UserModel):
    version: Literal[1] = 1
    file_type: Literal["action-plan"]
    institution: str = ""
    actions: list[Action] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> PlanFile:
        seen: set[str] = set()
        for action in self.actions:
            if action.id in seen:
                raise ValueError(f"action id {action.id!r} is used twice; give every action its own id")
            seen.add(action.id)
        return self


def load_targets(path: Path) -> TargetsFile:
    return load_user_file(path, TargetsFile, TARGETS_FILE_TYPE, VERSIONS)[0]


def load_plan(path: Path) -> tuple[PlanFile, Any]:
    """The action plan and its round-trip document (so ``actions init`` can add to it, comments kept)."""
    plan, doc = load_user_file(path, PlanFile, PLAN_FILE_TYPE, VERSIONS)
    issues = [Issue(f"actions[{i}].closed: {a.status.value} but no closed quarter",
                    Location(str(path), *position(doc, ["actions", i, "status"])),
                    "add 'closed: YYYYQn' (the quarter it was closed in)")
              for i, a in enumerate(plan.actions) if a.status in (Status.DONE, Status.DROPPED) and not a.closed]
    if issues:
        raise DetcovError(issues=issues)
    return plan, doc


# ----- seeding the plan from a recorded quarter -----------------------------------------------------------------
GAP_KPI = {"blind": "visibility", "rule-gap": "detection", "broken": "detection", "contradicted": "detection",
           "detected": "detection"}


def _next_id(quarter: str, taken: set[str]) -> str:
    n = 1
    while f"A{quarter}-{n:02d}" in taken:
        n += 1
    taken.add(f"A{quarter}-{n:02d}")
    return f"A{quarter}-{n:02d}"


def action_title(t: Catalogue, risk: Risk) -> str:
    values = {"action": action_text(t, risk.gap), "technique": risk.technique, "name": risk.name}
    return t("plan.title_group", group=risk.group, **values) if risk.group else t("plan.title", **values)


def seed_actions(snapshot: Snapshot, t: Catalogue, *, existing: Sequence[Action] = (), owner: str = "",
                 due_in: int = 1, top: int = 10) -> list[dict[str, Any]]:
    """New actions for the quarter's top gaps that the plan does not track yet (matched on ``source``).

    Titles are written in the catalogue's language; ``detail`` keeps the scanner's own next step as written.
    """
    quarter = snapshot.quarter
    sources = {a.source for a in existing if a.source}
    taken = {a.id for a in existing}
    out: list[dict[str, Any]] = []
    for risk in top_risks(snapshot.summary, top):
        source = f"gap:{risk.technique}" + (f"@{risk.group}" if risk.group else "")
        kpi = GAP_KPI.get(risk.gap)
        if source in sources or kpi is None:
            continue
        sources.add(source)
        out.append({"id": _next_id(quarter, taken),
                    "title": action_title(t, risk),
                    "owner": owner, "due": shift(quarter, due_in), "status": Status.OPEN.value, "opened": quarter,
                    "source": source, "techniques": [risk.technique], "kpi": kpi, "gap": risk.gap,
                    "detail": risk.detail})
    return out


def plan_text(institution: str, actions: Sequence[Mapping[str, Any]]) -> str:
    """A new action-plan file, with a comment saying how to use it."""
    doc = {"version": 1, "file_type": PLAN_FILE_TYPE, "institution": institution, "actions": list(actions)}
    return PLAN_HEADER + dump_yaml(doc)


PLAN_HEADER = """\
# detcov action plan: one entry per action, seeded from the quarter's top gaps (`detcov report actions init`).
# Edit owner, due (YYYYQn) and status (open | in-progress | done | dropped; done and dropped need `closed: YYYYQn`),
# then record it each quarter: `detcov report actions record --quarter 2026Q3 --actions action-plan.yaml`.
# Re-running `init` adds new gaps only; it never changes or removes what you wrote.
"""


def init_plan(path: Path, snapshot: Snapshot, t: Catalogue, *, owner: str = "", due_in: int = 1,
              top: int = 10) -> tuple[int, int]:
    """Create ``path`` or add the quarter's new gaps to it (comments and edits kept). Returns (added, kept)."""
    if path.exists():
        plan, doc = load_plan(path)
        new = seed_actions(snapshot, t, existing=plan.actions, owner=owner, due_in=due_in, top=top)
        if new:
            if doc.get("actions") is None:
                doc["actions"] = []
            doc["actions"].extend(new)
            save_yaml(path, doc)
        return len(new), len(plan.actions)
    new = seed_actions(snapshot, t, owner=owner, due_in=due_in, top=top)
    atomic_write(path, plan_text(snapshot.summary.scope.institution, new).encode("utf-8"))
    return len(new), 0


def action_states(plan: PlanFile) -> list[ActionState]:
    return [ActionState(a.id, a.title, a.owner, a.due, a.status.value, a.opened or "", a.closed or "", a.source,
                        tuple(a.techniques), a.kpi or "", a.detail, a.note, a.gap) for a in plan.actions]


def localised_title(t: Catalogue, action: ActionState, names: Mapping[str, str]) -> str:
    """The title in ``t``'s language when it is still the one ``init`` wrote (in any language); else as written."""
    if not action.gap or len(action.techniques) != 1 or action.techniques[0] not in names:
        return action.title
    tid = action.techniques[0]
    group = action.source.split("@", 1)[1] if "@" in action.source else ""
    risk = Risk(tid, names[tid], "", action.gap, 0.0, 0.0, group, None, "", "")
    seeded = {action_title(catalogue(lang), risk) for lang in LANGUAGES}
    return action_title(t, risk) if action.title in seeded else action.title


def targets_of(targets: TargetsFile, quarter: str) -> list[Target]:
    """The targets that apply to ``quarter`` (each KPI's latest target set at or before it)."""
    out = []
    for kpi in ("visibility", "detection", "blocking", "validated"):
        value = targets.target(quarter, kpi)
        if value is not None:
            out.append(Target(kpi, value, targets.amber_margin))
    return out


def record_files(store: Path, quarter: str, *, actions: Path | None = None, targets: Path | None = None) -> str:
    """Validate and record the action plan and/or targets file as ``quarter``'s; a line saying what was stored."""
    quarter = parse_quarter(quarter)
    files, said = [], []
    states = target_rows = None
    if actions is not None:
        states = action_states(load_plan(actions)[0])
        files.append(PlanFileRecord("actions", str(actions), file_sha256(actions)))
        said.append(f"{len(states)} actions")
    if targets is not None:
        target_rows = targets_of(load_targets(targets), quarter)
        files.append(PlanFileRecord("targets", str(targets), file_sha256(targets)))
        said.append(f"{len(target_rows)} KPI targets")
    if not files:
        raise DetcovError("nothing to record", hint="pass --actions FILE and/or --targets FILE")
    record_plan(store, quarter, actions=states, targets=target_rows, files=files)
    return f"recorded {' and '.join(said)} for {quarter}"
