"""The rule pack's domain objects: SIEM targets, gap techniques, candidate rules and their conversions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from detcov.rules import Rule


class Target(StrEnum):
    """The SIEM query language a pack is written for."""

    SPLUNK = "splunk"  # SPL, savedsearches.conf stanzas
    ELASTIC = "elastic"  # Lucene, Elastic detection-rule NDJSON
    ELASTIC_ESQL = "elastic-esql"  # ES|QL, Elastic detection-rule NDJSON
    SENTINEL = "sentinel"  # KQL, Microsoft Sentinel analytic-rule YAML

    @property
    def language(self) -> str:
        return _LANGUAGE[self]


_LANGUAGE = {
    Target.SPLUNK: "Splunk SPL",
    Target.ELASTIC: "Elasticsearch Lucene",
    Target.ELASTIC_ESQL: "Elasticsearch ES|QL",
    Target.SENTINEL: "Microsoft Sentinel KQL",
}
GAP_CLASSES: tuple[str, ...] = ("rule-gap", "broken")  # visible but undetected / detected only by broken rules


class GapLike(Protocol):
    """What the suggester reads from a scan gap (``detcov.coverage.engine.Gap`` satisfies it)."""

    @property
    def technique(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def gap(self) -> str: ...
    @property
    def weight(self) -> float: ...
    @property
    def priority(self) -> float: ...


@dataclass(frozen=True, slots=True)
class NewerId:
    """A technique id a rule is tagged with that the loaded ATT&CK does not know (another release).

    ``loaded`` is its equivalent in the loaded version (from the crosswalk, ``detcov/attack/crosswalk.yaml``), or
    None when there is no known equivalent (then the tag cannot be matched to a gap, and the index says so)."""

    id: str
    loaded: str | None
    name: str
    attack_version: str  # the release of the id: "v19+", "v18 or earlier", "newer"

    @property
    def note(self) -> str:
        name = f"{self.name}, " if self.name else ""
        if self.loaded:
            return f"tagged {self.id} ({name}ATT&CK {self.attack_version} id), counted as {self.loaded} here"
        return f"tagged {self.id}: ATT&CK {self.attack_version} id with no known equivalent in the loaded ATT&CK"


@dataclass(frozen=True, slots=True)
class SigmaExtras:
    """What the normalised :class:`Rule` leaves out of a Sigma rule but the pack needs."""

    falsepositives: tuple[str, ...] = ()
    description: str = ""
    references: tuple[str, ...] = ()
    author: str = ""
    product: str | None = None
    category: str | None = None
    service: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """One Sigma rule suggested for the pack.

    ``rule`` is the corpus rule with its technique ids as counted here (newer-release tags replaced by their
    loaded equivalents), ready to be passed to a what-if scan as an extra rule. ``techniques`` are the gap
    techniques it covers, best first; ``weight`` is the highest threat weight among them."""

    rule: Rule
    techniques: tuple[str, ...]
    weight: float
    priority: float
    rank: int
    why: str
    log_source: str
    newer_ids: tuple[NewerId, ...] = ()
    extras: SigmaExtras = SigmaExtras()
    groups: tuple[str, ...] = ()  # the system groups where it would be healthy (empty: not known per group)
    reach: float = 0.0  # share of the hosts on its platforms that those groups hold
    by_device: tuple[tuple[str, tuple[str, ...]], ...] = ()  # device type -> the groups where it alone feeds it
    signature: bool = False  # names one tool, malware or PUA (ranked after behaviour rules)

    @property
    def sigma_id(self) -> str:
        return self.rule.id.split("#", 1)[0]


@dataclass(frozen=True, slots=True)
class Converted:
    """A candidate converted for one target: ``query`` on success, else ``error`` (the backend's reason)."""

    candidate: Candidate
    target: Target
    query: str = ""
    pipeline: str = ""
    error: str = ""
    groups: tuple[str, ...] = ()  # where the converted query runs (the pipeline's devices are there)
    device_type: str | None = None  # the catalogue device type the pipeline's field names are for

    @property
    def ok(self) -> bool:
        return bool(self.query) and not self.error
