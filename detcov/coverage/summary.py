"""``summary.json``: the KPIs of one scan, the input of history and the quarterly report.

It is a versioned pydantic model so that history records from older detcov versions still load, and so that the
report never has to guess at keys. Percentages are 0..100 with one decimal; "weighted" versions weight each
technique by its threat weight from the chosen profiles.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

SUMMARY_VERSION = 1
ROLLUP_RULE = ("visibility: best system group; detection: healthy rules (or manual score) of the technique; "
               "blocking: enabled blocking devices via ATT&CK mitigations and CTID protect scores")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ratio(_Model):
    """``covered`` of ``total`` techniques in scope, plain and threat-weighted."""

    covered: int
    total: int
    percent: float
    weighted_percent: float


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


class ValidationKpi(_Model):
    tests: int
    detected: int
    blocked: int
    contradictions: int


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
