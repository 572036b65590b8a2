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

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from detcov.errors import DetcovError, Issue, Location
from detcov.outputs.history.quarters import parse_quarter, quarter_key
from detcov.userfiles import UserModel, load_user_file, position

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
    targets: dict[str, dict[KpiName, float]] = Field(default_factory=dict)

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
        set_before = [q for q in self.targets if quarter_key(q) <= key and kpi in self.targets[q]]
        if not set_before:
            return None
        return float(self.targets[max(set_before, key=quarter_key)][kpi])


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


def plan_document(institution: str, actions: list[Mapping[str, Any]]) -> dict[str, Any]:
    """A new action-plan document (plain data, written with comments by the caller)."""
    return {"version": 1, "file_type": PLAN_FILE_TYPE, "institution": institution, "actions": list(actions)}
