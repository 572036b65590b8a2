"""The share format: one institution's anonymised coverage summary, and the contract it is built from.

A share is two files with the same random stem: ``<stem>.parquet`` (one row per technique × scope class, columns
:data:`COLUMNS`) and ``<stem>.json`` (the :class:`Manifest`). Both hold no institution name, host, rule text, file
path or group name; see :mod:`detcov.sector` for the anonymisation rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
FILE_TYPE = "detcov-sector-share"
KINDS = ("workstations", "servers", "core-banking", "payments", "internet-banking", "cloud", "network",
         "identity", "other")
TIERS = {5: "crown-jewel", 4: "critical"}  # criticality 1..3 -> "standard"
RULE_FAMILIES = ("sigma", "splunk", "elastic", "sentinel", "defender", "csv", "dettect")
RULE_TOP_CODE = 3  # rule counts are written 0, 1, 2, 3 (= 3 or more)
KPIS = ("visibility", "detection", "blocking", "validated")
ALL = "all"  # the scope class of each technique's institution-wide row (the worst of its classes)

# Bands: coarse on purpose (see the package docstring). Each band's lower bound is on the KPI threshold.
VISIBILITY_BANDS = ("blind", "partial", "good")  # 0 | 1-2 | 3-4
DETECTION_BANDS = ("none", "weak", "good", "strong")  # -1..0 | 1 | 2-3 | 4-5
BLOCKING_BANDS = ("none", "partial", "strong")  # 0 | 1 | 2-3
BANDS = {"visibility": VISIBILITY_BANDS, "detection": DETECTION_BANDS, "blocking": BLOCKING_BANDS}
EVIDENCE = ("none", "claimed", "proven", "disproved")

COLUMNS = ("submission", "attack_version", "technique", "scope_class", "visibility", "detection", "blocking",
           "evidence", *(f"rules_{f}" for f in RULE_FAMILIES), "threat_weight")


def visibility_band(score: int) -> int:
    return 0 if score <= 0 else 1 if score <= 2 else 2


def detection_band(score: int) -> int:
    return 0 if score <= 0 else 1 if score == 1 else 2 if score <= 3 else 3


def blocking_band(score: int) -> int:
    return 0 if score <= 0 else 1 if score == 1 else 2


def tier(criticality: int) -> str:
    return TIERS.get(criticality, "standard")


# ----- what a share is built from (the scoring core's per-group cells) ---------------------------------------
class GroupLike(Protocol):
    """A system group as the share needs it (``detcov.coverage.scope.GroupScope`` satisfies it)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def criticality(self) -> int: ...
    @property
    def hosts(self) -> int | None: ...


class CellLike(Protocol):
    """One technique in one system group (``detcov.coverage.scope.Cell`` satisfies it)."""

    @property
    def technique(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def applicable(self) -> bool: ...
    @property
    def observable(self) -> bool: ...
    @property
    def visibility(self) -> int: ...
    @property
    def detection(self) -> int: ...
    @property
    def blocking(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    kind: str = "other"
    criticality: int = 3
    hosts: int | None = None


@dataclass(frozen=True, slots=True)
class MemberCell:
    """A cell as the share reads it: scores plus the evidence of its detection and the healthy rules by family."""

    technique: str
    group: str
    visibility: int
    detection: int
    blocking: int
    evidence: str = "none"  # none | claimed | proven | disproved (the detection evidence, else blocking)
    rules: tuple[tuple[str, str], ...] = ()  # (rule family, rule key): the healthy rules of the technique here
    applicable: bool = True
    observable: bool = True


@dataclass(frozen=True, slots=True)
class MemberCoverage:
    """Everything a share is made of, already free of rule text and paths (group names stay until anonymised)."""

    attack_version: str
    groups: Sequence[Group]
    cells: Sequence[MemberCell]
    weights: dict[str, float]  # the financial threat profile's weight per technique
    kpis: dict[str, float]  # headline percent per KPI (summary.json), for the institution's sector position


# ----- the manifest ------------------------------------------------------------------------------------------
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Anonymisation(_Model):
    min_hosts: int  # a scope class with fewer hosts is generalised (tier dropped, then folded into "other")
    tiers: bool  # scope classes split by criticality tier
    generalised: int  # scope classes folded into a coarser one
    suppressed: int  # scope classes left out (still too small as "other")
    rule_top_code: int = RULE_TOP_CODE
    noise: str = "none"


class Manifest(_Model):
    """``<stem>.json`` beside ``<stem>.parquet``."""

    file_type: str = FILE_TYPE
    schema_version: int = SCHEMA_VERSION
    submission: str  # random, not derived from anything about the institution
    created: str  # ISO date (day only)
    detcov_version: str
    attack_version: str
    rows: int
    scope_classes: list[str]
    kpis: dict[str, float] = Field(default_factory=dict)  # whole percent
    anonymisation: Anonymisation
