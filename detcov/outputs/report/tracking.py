"""PDCA tracking of the action plan across recorded quarters (pure).

For the report's quarter Q, the plan in force is the latest one recorded at or before Q; it is compared with the plan
recorded before that (P). Each action gets one tracking state:

* ``done`` — status done, closed by its due quarter; ``done-late`` — done after it;
* ``late`` — still open or in progress and its due quarter is Q or earlier (the report is the quarter's "Check");
* ``on-track`` — open or in progress, due later;
* ``dropped`` — status dropped; ``removed`` — in P, open there, and missing from the plan now (dropped without a
  recorded decision: an auditor asks about these);
* ``closed`` — done or dropped already in P (kept for the record, not counted again).

``new`` marks actions that were not in P. For an action tied to a KPI and techniques, the effect is measured in the
quarter's scan: how many of its techniques now count as covered in that KPI's view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from detcov.outputs.history.actions import ActionState, PlanHistory
from detcov.outputs.history.diff import covered
from detcov.outputs.history.quarters import quarter_key
from detcov.outputs.history.snapshot import TechniqueRow

STATES = ("done", "done-late", "late", "on-track", "dropped", "removed", "closed")
KPI_VIEW = {"visibility": "visibility", "detection": "detection", "blocking": "prevention", "validated": "validated"}


@dataclass(frozen=True, slots=True)
class Effect:
    covered: int
    total: int


@dataclass(frozen=True, slots=True)
class TrackedAction:
    action: ActionState
    state: str  # one of STATES
    new: bool
    statuses: tuple[tuple[str, str], ...]  # (quarter, recorded status) over every recorded quarter up to Q
    effect: Effect | None


@dataclass(frozen=True, slots=True)
class Tracking:
    quarter: str | None  # the quarter whose recorded plan is in force (None: no plan recorded)
    previous: str | None  # the plan it is compared with
    actions: tuple[TrackedAction, ...]
    quarters: tuple[str, ...]  # plan quarters up to the report quarter

    def count(self, *states: str) -> int:
        return sum(a.state in states for a in self.actions)

    @property
    def due(self) -> int:
        """Actions whose due quarter has come: done (on time or late), late, or dropped/removed this cycle."""
        return self.count("done", "done-late", "late", "dropped", "removed")


def _state(action: ActionState, before: ActionState | None, quarter: str) -> str:
    if before is not None and before.status in ("done", "dropped"):
        return "closed"
    if action.status == "done":
        closed = action.closed or quarter
        return "done" if quarter_key(closed) <= quarter_key(action.due) else "done-late"
    if action.status == "dropped":
        return "dropped"
    return "late" if quarter_key(action.due) <= quarter_key(quarter) else "on-track"


def effect(action: ActionState, techniques: Mapping[str, TechniqueRow]) -> Effect | None:
    view = KPI_VIEW.get(action.kpi)
    if view is None or not action.techniques:
        return None
    rows = [techniques[t] for t in action.techniques if t in techniques]
    return Effect(sum(covered(r, view) for r in rows), len(action.techniques))


def track(plans: PlanHistory, quarter: str, techniques: Sequence[TechniqueRow]) -> Tracking:
    """The tracking state of every action for the report's ``quarter`` (see the module docstring)."""
    key = quarter_key(quarter)
    recorded = [q for q in plans.actions if quarter_key(q) <= key]
    if not recorded:
        return Tracking(None, None, (), ())
    now, before = recorded[-1], (recorded[-2] if len(recorded) > 1 else None)
    current = {a.id: a for a in plans.actions[now]}
    previous = {a.id: a for a in plans.actions[before]} if before else {}
    by_id = {t.technique: t for t in techniques}

    def history(action_id: str) -> tuple[tuple[str, str], ...]:
        return tuple((q, a.status) for q in recorded for a in plans.actions[q] if a.id == action_id)

    out = [TrackedAction(a, _state(a, previous.get(a.id), quarter), before is not None and a.id not in previous,
                         history(a.id), effect(a, by_id)) for a in current.values()]
    out += [TrackedAction(a, "removed", False, history(a.id), effect(a, by_id)) for a in previous.values()
            if a.id not in current and a.status not in ("done", "dropped")]
    order = {s: i for i, s in enumerate(("late", "removed", "done-late", "on-track", "done", "dropped", "closed"))}
    out.sort(key=lambda t: (order[t.state], quarter_key(t.action.due), t.action.id))
    return Tracking(now, before, tuple(out), tuple(recorded))
