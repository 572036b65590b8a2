"""Attack-simulation results (Atomic Red Team runs, purple-team trackers) → validated vs claimed coverage.

The results are read by :mod:`detcov.simulations` (detcov's CSV, Atomic Red Team, ATTiRe, Caldera, VECTR). The
newest result of each (technique, test) counts. A contradiction is a claim the test disproves: a detection score
≥ 1 but the newest test was not detected, or a blocking score ≥ 1 but it was not blocked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from detcov.attack import AttackKB
from detcov.errors import DetcovError, Issue
from detcov.simulations import TestResult, read_results

__all__ = ["TestResult", "ValidationOutcome", "assess_validation", "load_validation"]


@dataclass(frozen=True, slots=True)
class ValidationOutcome:
    technique: str
    results: tuple[TestResult, ...]  # newest per test
    detected: bool
    blocked: bool
    contradictions: tuple[str, ...]

    @property
    def status(self) -> str:
        return "blocked" if self.blocked else "detected" if self.detected else "missed"


def load_validation(path: str | Path, kb: AttackKB) -> tuple[list[TestResult], list[Issue]]:
    """Thin wrapper over :func:`detcov.simulations.read_results` (any supported format, auto-detected); bad input
    comes back as error issues so the engine reports them with the rest of the run."""
    try:
        return read_results(Path(path), kb)
    except DetcovError as exc:
        return [], list(exc.issues)


def assess_validation(results: list[TestResult], detection: Mapping[str, int],
                      prevention: Mapping[str, int]) -> dict[str, ValidationOutcome]:
    newest: dict[tuple[str, str], TestResult] = {}
    for r in results:
        key = (r.technique, r.test)
        if key not in newest or r.date >= newest[key].date:
            newest[key] = r
    by_tech: dict[str, list[TestResult]] = defaultdict(list)
    for r in newest.values():
        by_tech[r.technique].append(r)
    out: dict[str, ValidationOutcome] = {}
    for tid, rs in by_tech.items():
        contradictions = [f"detection score {detection[tid]} claimed but test {r.test!r} ({r.date}) was not detected"
                          for r in rs if r.detected is False and detection.get(tid, -1) >= 1]
        contradictions += [f"blocking claimed but test {r.test!r} ({r.date}) was not blocked"
                           for r in rs if r.blocked is False and prevention.get(tid, 0) >= 1]
        out[tid] = ValidationOutcome(tid, tuple(rs), any(r.detected for r in rs), any(r.blocked for r in rs),
                                     tuple(contradictions))
    return out
