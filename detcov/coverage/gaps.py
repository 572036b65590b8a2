"""Gap classes and priorities for the techniques in the threat profile.

Classes, in the order a technique is checked (first match wins):

* ``validated``: an attack simulation was detected or blocked, and no test contradicts the claims;
* ``detected``: detection score ≥ 1 (healthy rules, or a manual score);
* ``broken``: rules exist for it but none counts (disabled, log source not collected, …);
* ``rule-gap``: visible (visibility ≥ 1) but no rule;
* ``blind``: no visibility and no detection;
* ``not-observable``: ATT&CK names no telemetry for it on any platform the institution runs (PRE techniques such
  as resource development, or platforms it does not have) — threat intelligence tracks it; never a priority.

Priority = threat weight × gap severity; severity is 1.0 blind, 0.9 broken, 0.8 rule gap, for detected
0.5 × (1 − detection / 5) (shallow detection still matters), and 0 for validated.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class GapClass(StrEnum):
    BLIND = "blind"
    RULE_GAP = "rule-gap"
    BROKEN = "broken"
    DETECTED = "detected"
    VALIDATED = "validated"
    NOT_OBSERVABLE = "not-observable"


SEVERITY = {GapClass.BLIND: 1.0, GapClass.BROKEN: 0.9, GapClass.RULE_GAP: 0.8, GapClass.VALIDATED: 0.0,
            GapClass.NOT_OBSERVABLE: 0.0}


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


def classify(visibility: int, detection: int, has_broken_rules: bool, validated: bool,
             contradicted: bool, observable: bool = True) -> GapClass:
    if not observable and detection < 1 and not validated:
        return GapClass.NOT_OBSERVABLE
    if validated and not contradicted:
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


def priority(weight: float, gap: GapClass, detection: int) -> float:
    return round(weight * severity(gap, detection), 4)
