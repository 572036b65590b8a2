"""Gap classes and priorities for the techniques in the threat profile.

Classes of one technique in one system group, in the order they are checked (first match wins):

* ``not-applicable``: the group does not run the technique's platforms (or it needs an internet-facing system);
* ``contradicted``: the newest attack simulation in the group disproved a claim (not detected / not blocked) —
  ranked like a broken rule until a newer test passes;
* ``validated``: an attack simulation in the group was detected or blocked within the validation window;
* ``detected``: detection score ≥ 1 (healthy rules, or a manual score);
* ``broken``: rules exist for it but none counts (disabled, log source not collected, …);
* ``rule-gap``: visible (visibility ≥ 1) but no rule;
* ``blind``: no visibility and no detection;
* ``not-observable``: ATT&CK names no telemetry for it on any platform the institution runs (PRE techniques such
  as resource development, or platforms it does not have) — threat intelligence tracks it; never a priority.

Priority of a cell = threat weight × gap severity × criticality / 5; severity is 1.0 blind, 0.9 broken and
contradicted, 0.8 rule gap, for detected 0.5 × (1 − detection / 5) (shallow detection still matters), and 0 for
validated, not observable and not applicable. A technique's priority is its highest cell's: the most critical
affected group decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class GapClass(StrEnum):
    BLIND = "blind"
    RULE_GAP = "rule-gap"
    BROKEN = "broken"
    DETECTED = "detected"
    VALIDATED = "validated"
    NOT_OBSERVABLE = "not-observable"
    CONTRADICTED = "contradicted"
    NOT_APPLICABLE = "not-applicable"


SEVERITY = {GapClass.BLIND: 1.0, GapClass.BROKEN: 0.9, GapClass.CONTRADICTED: 0.9, GapClass.RULE_GAP: 0.8,
            GapClass.VALIDATED: 0.0, GapClass.NOT_OBSERVABLE: 0.0, GapClass.NOT_APPLICABLE: 0.0}
MEASURED = frozenset(set(GapClass) - {GapClass.NOT_OBSERVABLE, GapClass.NOT_APPLICABLE})


@dataclass(frozen=True, slots=True)
class Gap:
    technique: str
    name: str
    tactics: tuple[str, ...]
    gap: GapClass
    weight: float
    priority: float
    visibility: int
    detection: int
    prevention: int
    action: str
    group: str | None = None  # the deciding system group (the worst critical one)
    criticality: int = 3
    groups: tuple[str, ...] = ()  # "Core banking: blind" for every applicable group
    evidence: str = ""  # detection evidence of the deciding cell: none / claimed / proven / disproved


def classify(visibility: int, detection: int, has_broken_rules: bool, validated: bool,
             contradicted: bool, observable: bool = True) -> GapClass:
    if contradicted:
        return GapClass.CONTRADICTED
    if not observable and detection < 1 and not validated:
        return GapClass.NOT_OBSERVABLE
    if validated:
        return GapClass.VALIDATED
    if detection >= 1:
        return GapClass.DETECTED
    if has_broken_rules:
        return GapClass.BROKEN
    if visibility >= 1:
        return GapClass.RULE_GAP
    return GapClass.BLIND


def severity(gap: GapClass, detection: int) -> float:
    if gap is GapClass.DETECTED:
        return 0.5 * (1 - min(max(detection, 0), 5) / 5)
    return SEVERITY[gap]


def priority(weight: float, gap: GapClass, detection: int, criticality: int = 5) -> float:
    return round(weight * severity(gap, detection) * criticality / 5, 4)


def telemetry_step(group: str, visibility_text: str) -> str:
    """The next step for a blind cell, from its visibility explanation: forward what is deployed, else add what
    is missing (whole component names, never cut mid-word)."""
    missing = visibility_text.split("missing: ", 1)[-1].split(" | ")[0]
    parts = [m.strip() for m in missing.split("; ") if m.strip()]
    idle = dict.fromkeys(d for m in parts for d in re.findall(r"deployed on (.+?) but not in the SIEM", m))
    labels = [m.split(" (", 1)[0] for m in parts]
    shown = ", ".join(labels[:3]) + (f" and {len(labels) - 3} more" if len(labels) > 3 else "")
    if idle:
        return f"forward to the SIEM the logs of {', '.join(idle)} ({group}): {shown}"
    return f"add telemetry for {group}: {shown}" if shown else f"add telemetry for {group}"
