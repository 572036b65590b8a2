"""``summary.json``: the KPIs of one scan, the input of history and the quarterly report.

It is a versioned pydantic model so that history records from older detcov versions still load, and so that the
report never has to guess at keys. Percentages are 0..100 with one decimal; "weighted" versions weight each
technique by its threat weight from the chosen profiles.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

SUMMARY_VERSION = 2
ROLLUP_RULE = ("every score is per technique × system group. Headline KPIs: the criticality-weighted share of "
               "observable (technique, system group) cells of the threat profile meeting the threshold — visibility "
               ">= 3, detection >= 2 (a production rule healthy in that group, on its SIEM), blocking >= 1 (a "
               "technical enforcement claim that holds there), validated = a test in that group proved detection "
               "or blocking within the validation window. 'weighted' also weights each cell by the technique's "
               "threat weight. The weakest critical group (criticality >= 4) is shown beside each KPI; the best "
               "group only as a secondary figure. A technique's own entry (gaps, layers, heatmaps) is its deciding "
               "group: the highest threat weight × gap severity × criticality.")
THRESHOLDS = {"visibility": 3, "detection": 2, "blocking": 1, "validated": 1}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ratio(_Model):
    """``covered`` of ``total`` cells (v1: techniques) in scope; ``percent`` criticality-weighted (v1: plain),
    ``weighted_percent`` threat × criticality-weighted."""

    covered: int
    total: int
    percent: float
    weighted_percent: float
    threshold: int | None = None  # the score a cell must reach
    proven_percent: float | None = None  # share proven by a test (detection, blocking)
    weakest_group: str | None = None  # the critical group (criticality >= 4) with the lowest percent
    weakest_percent: float | None = None
    best_group: str | None = None  # secondary only
    best_percent: float | None = None


class Kpis(_Model):
    visibility: Ratio  # rolled-up visibility score >= 1
    detection: Ratio  # rolled-up detection score >= 1 (healthy rules or manual score)
    blocking: Ratio  # at least one enabled blocking control implements a mitigation of the technique
    validated: Ratio  # an attack simulation was detected or blocked


class TacticKpi(_Model):
    tactic: str  # TA0002
    name: str
    techniques: int
    visibility: float
    detection: float
    blocking: float
    weighted_detection: float


class GroupKpi(_Model):
    group: str  # G0046 or a custom actor key
    name: str
    techniques: int
    visibility: float
    detection: float
    blocking: float


class GapItem(_Model):
    technique: str
    name: str
    tactics: list[str]
    gap: str  # blind | rule-gap | broken | detected | validated | not-observable
    priority: float
    weight: float
    visibility: int
    detection: int
    action: str  # the recommended next step
    group: str | None = None  # the deciding system group
    criticality: int | None = None
    evidence: str | None = None  # detection evidence there: none / claimed / proven / disproved


class ValidationKpi(_Model):
    tests: int  # results counted (newest per test and system group)
    detected: int  # cells whose detection a test proved
    blocked: int  # cells whose blocking a test proved
    contradictions: int  # cells where the newest test disproved a claim (detection or blocking)
    not_detected: int = 0  # results whose outcome was "not detected"
    not_blocked: int = 0  # results whose outcome was "not blocked"


class SystemGroupKpi(_Model):
    """One system group: its share of in-scope, observable techniques at each threshold."""

    name: str
    criticality: int
    kind: str = "other"
    platforms: list[str] = Field(default_factory=list)
    hosts: int | None = None
    techniques: int  # in-scope techniques observable in the group
    visibility: float
    detection: float
    blocking: float
    validated: float
    detection_proven: float = 0.0
    blocking_proven: float = 0.0
    blind: int = 0
    rule_gap: int = 0
    broken: int = 0
    contradicted: int = 0


class HardeningItem(_Model):
    device: str
    mitigation: str
    name: str
    techniques: int


class Scope(_Model):
    institution: str
    profiles: list[str]
    groups: list[str]
    techniques_in_scope: int
    platforms: list[str]
    system_groups: list[str]
    devices: int
    rules: int
    rule_files: int
    inventory_sha256: str
    rules_sha256: str


class AttackInfo(_Model):
    version: str | None
    domain: str
    sha256: str
    detection_model: str


class Summary(_Model):
    """Everything the quarterly report and history need from one scan."""

    summary_version: int = SUMMARY_VERSION
    detcov_version: str
    generated_at: str  # ISO 8601, UTC
    attack: AttackInfo
    scope: Scope
    kpis: Kpis
    per_tactic: list[TacticKpi]
    per_group: list[GroupKpi]
    rule_health: dict[str, int]  # outcome -> count
    gaps: dict[str, int]  # gap class -> count of in-scope techniques
    top_gaps: list[GapItem] = Field(default_factory=list)
    data_quality_issues: list[str] = Field(default_factory=list)
    validation: ValidationKpi | None = None
    rollup_rule: str = ""
    system_groups: list[SystemGroupKpi] = Field(default_factory=list)
    not_observable: int = 0  # in-scope techniques with no telemetry on any platform the institution runs
    not_applicable: int = 0  # in-scope techniques no system group runs (platform or exposure)
    distribution: dict[str, dict[str, int]] = Field(default_factory=dict)  # kpi -> score -> cells
    hardening: list[HardeningItem] = Field(default_factory=list)
    as_of: str | None = None
    provenance: list[str] = Field(default_factory=list)  # SIEM pulls behind the scan's evidence (no secrets)
