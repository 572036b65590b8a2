"""Frozen, typed models of the ATT&CK objects detcov uses.

Objects are keyed by their ATT&CK id (``T1059.001``, ``G0046``, ``DC0032``, ``AN1252``); data components are
keyed by STIX id, because v17 data components have no ATT&CK id (their STIX ids are stable from v17 to v18).
Relationships that the coverage maths needs are kept as small plain tuples (see :class:`Use`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DetectionModel(StrEnum):
    """How the bundle links telemetry to techniques."""

    ANALYTICS = "analytics"  # v18+: detection strategy -> analytics -> log-source references -> data component
    DATA_COMPONENTS = "data-components"  # v17 and earlier: data component --detects--> technique


class Provenance(StrEnum):
    """How a group is linked to a technique."""

    DIRECT = "direct"  # intrusion-set uses attack-pattern
    CAMPAIGN = "campaign"  # campaign attributed-to group, campaign uses attack-pattern
    SOFTWARE = "software"  # group uses software, software uses attack-pattern
    CAMPAIGN_SOFTWARE = "campaign-software"  # campaign of the group uses software that uses the technique


@dataclass(frozen=True, slots=True)
class Tactic:
    id: str  # TA0002
    shortname: str  # execution
    name: str  # Execution
    stix_id: str


@dataclass(frozen=True, slots=True)
class Technique:
    id: str  # T1059 or T1059.001
    stix_id: str
    name: str
    tactics: tuple[str, ...]  # tactic shortnames, in matrix order
    platforms: tuple[str, ...]
    is_subtechnique: bool
    parent: str | None  # parent technique id for sub-techniques
    deprecated: bool
    revoked: bool
    revoked_by: str | None  # ATT&CK id of the object that replaced it (one step; see ids.py for chains)
    modified: str

    @property
    def active(self) -> bool:
        return not (self.deprecated or self.revoked)

    @property
    def url(self) -> str:
        return "https://attack.mitre.org/techniques/" + self.id.replace(".", "/")


@dataclass(frozen=True, slots=True)
class LogSource:
    """A v18 log source: a name (``WinEventLog:Sysmon``) and a channel (``EventCode=1``; free text)."""

    name: str
    channel: str


@dataclass(frozen=True, slots=True)
class DataComponent:
    stix_id: str
    name: str  # Process Creation
    dc_id: str | None  # DC0032 (v18+); None on v17
    data_source: str | None  # parent data source name on v17 ("Process"); None on v18
    log_sources: tuple[LogSource, ...]  # v18 x_mitre_log_sources
    deprecated: bool
    revoked: bool

    @property
    def active(self) -> bool:
        return not (self.deprecated or self.revoked)

    @property
    def label(self) -> str:
        """The display name: ``DC0032 Process Creation`` (v18) or ``Process: Process Creation`` (v17)."""
        if self.dc_id:
            return f"{self.dc_id} {self.name}"
        if self.data_source:
            return f"{self.data_source}: {self.name}"
        return self.name


@dataclass(frozen=True, slots=True)
class LogSourceRef:
    """One log-source reference of a v18 analytic."""

    data_component: str  # STIX id
    name: str
    channel: str


@dataclass(frozen=True, slots=True)
class MutableElement:
    field: str
    description: str


@dataclass(frozen=True, slots=True)
class Analytic:
    id: str  # AN1252
    stix_id: str
    name: str
    platform: str | None  # exactly one platform per analytic in v18
    description: str
    log_sources: tuple[LogSourceRef, ...]
    mutable_elements: tuple[MutableElement, ...]
    strategy: str | None  # DET id


@dataclass(frozen=True, slots=True)
class DetectionStrategy:
    id: str  # DET0455
    stix_id: str
    name: str
    analytics: tuple[str, ...]  # AN ids
    techniques: tuple[str, ...]  # technique ids it detects


@dataclass(frozen=True, slots=True)
class DetectionRef:
    """One piece of telemetry that gives visibility into a technique on a platform.

    v18: one per analytic log-source reference (``analytic``/``strategy``/``log_source`` set).
    v17: one per data component ``detects`` relationship and platform (those three are None).
    """

    platform: str | None
    data_component: str  # STIX id
    log_source: LogSource | None
    analytic: str | None
    strategy: str | None


@dataclass(frozen=True, slots=True)
class Group:
    id: str  # G0046
    stix_id: str
    name: str
    aliases: tuple[str, ...]
    description: str
    deprecated: bool
    revoked: bool
    revoked_by: str | None
    modified: str

    @property
    def active(self) -> bool:
        return not (self.deprecated or self.revoked)


@dataclass(frozen=True, slots=True)
class Software:
    id: str  # S0002
    stix_id: str
    name: str
    kind: str  # malware | tool
    aliases: tuple[str, ...]
    platforms: tuple[str, ...]
    deprecated: bool
    revoked: bool


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str  # C0022
    stix_id: str
    name: str
    aliases: tuple[str, ...]
    first_seen: str | None
    last_seen: str | None
    deprecated: bool
    revoked: bool


@dataclass(frozen=True, slots=True)
class Mitigation:
    id: str  # M1038
    stix_id: str
    name: str
    description: str
    deprecated: bool
    revoked: bool

    @property
    def active(self) -> bool:
        return not (self.deprecated or self.revoked)


@dataclass(frozen=True, slots=True)
class Mitigates:
    mitigation: str  # M id
    technique: str  # T id
    description: str


@dataclass(frozen=True, slots=True)
class Use:
    """``source uses target`` between active objects, by ATT&CK id (group/campaign/software → technique/software)."""

    source: str
    target: str
    modified: str


@dataclass(frozen=True, slots=True)
class TechniqueUse:
    """A technique that a group uses, and how we know (provenance + the campaign/software in between)."""

    technique: str
    provenance: Provenance
    via: str | None  # campaign or software id (or "C0022/S0001" for campaign software)
    modified: str


@dataclass(frozen=True, slots=True)
class BundleInfo:
    """Facts about the loaded bundle."""

    domain: str  # enterprise-attack
    version: str | None  # "18.1" when known (collection object, file name or pinned checksum)
    spec_version: str  # STIX spec of the bundle: "2.0" or "2.1"
    attack_spec_version: str | None  # highest x_mitre_attack_spec_version seen
    detection_model: DetectionModel
    sha256: str
    source: str  # where it came from (path or URL)
    object_count: int
