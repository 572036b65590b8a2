"""Attack-simulation results → evidence per technique × system group: proven, disproved, or only claimed.

The results are read by :mod:`detcov.simulations` (detcov's CSV, Atomic Red Team, ATTiRe, Caldera, VECTR).

Evidence per technique × system group (:func:`assess_cells`): a result applies to the group it names (or whose
``host_patterns`` match its host; a result naming neither applies to every group the technique runs in, with a
warning). The newest result of each test counts. Any failed test *disproves* the claim (detection is capped at 1,
blocking at 0, and the gap is "contradicted") until a newer run of that test passes; a pass within the validation
window *proves* it; an older pass leaves it *claimed*; a result without a recorded outcome proves nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from detcov.attack import AttackKB
from detcov.coverage.scope import Evidence
from detcov.errors import DetcovError, Issue
from detcov.simulations import TestResult, read_results

__all__ = ["CellValidation", "TestResult", "assess_cells", "load_validation", "validation_text"]


def load_validation(path: str | Path, kb: AttackKB, fmt: str = "auto") -> tuple[list[TestResult], list[Issue]]:
    """Thin wrapper over :func:`detcov.simulations.read_results` (any supported format); bad input comes back as
    error issues so the engine reports them with the rest of the run."""
    try:
        return read_results(Path(path), kb, fmt)
    except DetcovError as exc:
        return [], list(exc.issues)


@dataclass(frozen=True, slots=True)
class CellValidation:
    """The tests of one technique in one system group, and what they prove or disprove."""

    technique: str
    group: str
    results: tuple[TestResult, ...]  # newest per test
    detection: Evidence  # PROVEN / DISPROVED / CLAIMED (only stale passes) / NONE (no outcome recorded)
    blocking: Evidence
    detection_test: TestResult | None  # the result that decided
    blocking_test: TestResult | None

    @property
    def detected(self) -> bool:
        return self.detection is Evidence.PROVEN

    @property
    def blocked(self) -> bool:
        return self.blocking is Evidence.PROVEN

    @property
    def contradicted(self) -> bool:
        return Evidence.DISPROVED in (self.detection, self.blocking)

    @property
    def status(self) -> str:
        return "blocked" if self.blocked else "detected" if self.detected else \
            "contradicted" if self.contradicted else "not proven"


def _decide(results: list[TestResult], attr: str, since: str) -> tuple[Evidence, TestResult | None]:
    """Newest result per test decides: any failure disproves; else a pass within the window proves."""
    judged = [r for r in results if getattr(r, attr) is not None]
    failed = sorted((r for r in judged if getattr(r, attr) is False), key=lambda r: r.date, reverse=True)
    if failed:
        return Evidence.DISPROVED, failed[0]
    passed = sorted((r for r in judged if getattr(r, attr)), key=lambda r: r.date, reverse=True)
    if passed and passed[0].date[:10] >= since:
        return Evidence.PROVEN, passed[0]
    return (Evidence.CLAIMED, passed[0]) if passed else (Evidence.NONE, None)


def assess_cells(results: Sequence[TestResult], place: Callable[[TestResult], tuple[str, ...]],
                 since: str) -> dict[tuple[str, str], CellValidation]:
    """(technique, group) -> evidence. ``place`` gives the groups a result applies to; ``since`` (ISO date) opens
    the validation window: a pass older than that no longer proves anything."""
    newest: dict[tuple[str, str, str], TestResult] = {}
    for r in results:
        for group in place(r):
            key = (r.technique, group, r.test)
            if key not in newest or r.date >= newest[key].date:
                newest[key] = r
    cells: dict[tuple[str, str], list[TestResult]] = defaultdict(list)
    for (tid, group, _), r in newest.items():
        cells[(tid, group)].append(r)
    out = {}
    for (tid, group), rs in cells.items():
        det, det_r = _decide(rs, "detected", since)
        blk, blk_r = _decide(rs, "blocked", since)
        out[(tid, group)] = CellValidation(tid, group, tuple(sorted(rs, key=lambda r: r.date)), det, blk, det_r,
                                           blk_r)
    return out


def validation_text(v: CellValidation) -> str:
    parts = []
    for what, ev, r in (("detection", v.detection, v.detection_test), ("blocking", v.blocking, v.blocking_test)):
        if r is not None:
            outcome = "not " if ev is Evidence.DISPROVED else ""
            parts.append(f"{what} {ev.value}: test {r.test!r} ({r.date}, {r.location}) was {outcome}"
                         f"{'detected' if what == 'detection' else 'blocked'}")
    return f"{v.group}: " + ("; ".join(parts) if parts else "tests without a recorded outcome")
