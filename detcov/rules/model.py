"""The normalised detection rule and the per-file accounting every reader produces.

Whatever the source format (Sigma, Splunk, Elastic, Sentinel, Defender, CSV, DeTT&CT), a reader yields
:class:`Rule` objects: frozen, with technique ids already normalised through the ATT&CK knowledge base
(:class:`~detcov.attack.IdResolution`: revoked → current with a note, unknown → kept and reported), the log
sources the rule needs as written *and* what they mean (data components / catalogue device types), and the
raw query text. Each input file is accounted for by a :class:`FileResult`: parsed into N rules, or skipped
with a reason; :class:`RuleSet` checks that the totals add up.
"""

from __future__ import annotations

import dataclasses
import operator
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from detcov.attack import IdResolution, IdStatus
from detcov.errors import Issue, Location
from detcov.slots import slot_builder


class RuleFormat(StrEnum):
    SIGMA = "sigma"
    SPLUNK_ESCU = "splunk-escu"
    SPLUNK_CONF = "splunk-savedsearches"
    ELASTIC_TOML = "elastic-toml"
    KIBANA_JSON = "kibana-json"
    SENTINEL_YAML = "sentinel-yaml"
    SENTINEL_ARM = "sentinel-arm"
    DEFENDER = "defender-xdr"
    CSV = "csv"
    DETTECT = "dettect"

    @property
    def family(self) -> str:
        """The ``--format`` name that selects this reader: sigma, splunk, elastic, sentinel, defender, csv,
        dettect."""
        return FAMILIES[self]


FAMILIES: dict[RuleFormat, str] = {
    RuleFormat.SIGMA: "sigma",
    RuleFormat.SPLUNK_ESCU: "splunk",
    RuleFormat.SPLUNK_CONF: "splunk",
    RuleFormat.ELASTIC_TOML: "elastic",
    RuleFormat.KIBANA_JSON: "elastic",
    RuleFormat.SENTINEL_YAML: "sentinel",
    RuleFormat.SENTINEL_ARM: "sentinel",
    RuleFormat.DEFENDER: "defender",
    RuleFormat.CSV: "csv",
    RuleFormat.DETTECT: "dettect",
}
FORMAT_CHOICES: tuple[str, ...] = ("auto", *dict.fromkeys(FAMILIES.values()))


class RuleStatus(StrEnum):
    """Deployment / lifecycle state, folded from each format's own vocabulary (``raw_status`` keeps it)."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    EXPERIMENTAL = "experimental"
    DEPRECATED = "deprecated"

    @property
    def active(self) -> bool:
        """Does the rule run? Experimental rules run (they are just young); disabled / deprecated ones
        don't."""
        return self in _ACTIVE  # (a set: an enum member looked up on its class costs a descriptor call)


_ACTIVE = frozenset({RuleStatus.ENABLED, RuleStatus.EXPERIMENTAL})


@dataclass(frozen=True, slots=True)
class LogSourceNeed:
    """What one piece of a log-source requirement means: data components (STIX ids) and/or device types.

    ``device_types`` are catalogue ids (``sysmon``, ``aws-cloudtrail``): any one of them provides this need.
    ``components`` are the ATT&CK data components the log source carries. ``platforms`` are ATT&CK platforms.
    """

    label: str
    components: frozenset[str] = frozenset()
    device_types: frozenset[str] = frozenset()
    platforms: tuple[str, ...] = ()
    products: frozenset[str] = frozenset()  # vendor-specific: one of these products must deliver it
    ml_job: str | None = None  # an Elastic ML job the SIEM must run
    custom_table: str | None = None  # a custom table / sourcetype the SIEM must have

    @property
    def mapped(self) -> bool:
        return bool(self.components or self.device_types or self.ml_job or self.custom_table)


@dataclass(frozen=True, slots=True)
class LogSourceReq:
    """One log source a rule can run on, as written (``kind`` says which field), with its meaning.

    A rule lists alternatives (any one suffices: ESCU ``data_source`` entries, Elastic ``index`` patterns,
    Sentinel connectors); one alternative may need several things at once (``"Sysmon EventID 1 AND Sysmon
    EventID 11"``): ``needs`` are all required.
    """

    kind: str  # sigma | data-source | index | integration | ml-job | connector | table | datamodel | column
    value: str
    needs: tuple[LogSourceNeed, ...]

    @property
    def mapped(self) -> bool:
        return bool(self.needs) and all(n.mapped for n in self.needs)


@dataclass(frozen=True, slots=True)
class Correlation:
    """A Sigma v2 correlation (``event_count``, ``value_count``, ``temporal``, ``temporal_ordered``): the rules it
    correlates (ids or names as written) and those that were not found among the rules read."""

    type: str
    rules: tuple[str, ...]
    group_by: tuple[str, ...] = ()
    timespan: str = ""
    unresolved: tuple[str, ...] = ()

    @property
    def all_required(self) -> bool:
        """Temporal correlations need every referenced rule to fire; counts need any one of them."""
        return self.type in ("temporal", "temporal_ordered")


@dataclass(frozen=True, slots=True)
class Rule:
    """One detection rule, normalised. Build with keyword arguments; instances are immutable."""

    format: RuleFormat
    location: Location
    id: str
    title: str
    status: RuleStatus
    raw_status: str | None = None
    severity: str | None = None
    techniques: tuple[IdResolution, ...] = ()
    tactics: tuple[str, ...] = ()  # tactic shortnames of the loaded ATT&CK version
    log_sources: tuple[LogSourceReq, ...] = ()
    platforms: tuple[str, ...] = ()
    query: str = ""
    notes: tuple[str, ...] = ()
    score: int | None = None  # DeTT&CT detection score (-1..5) when the source gives one
    applicable_to: tuple[str, ...] = ()  # system groups the rule watches (its rule source's), empty: all
    siems: tuple[str, ...] = ()  # SIEM instances it runs on (its rule source's), empty: any
    name: str | None = None  # Sigma ``name``: how correlations refer to a rule, besides its id
    correlation: Correlation | None = None  # set on Sigma correlation rules
    # The ids to count coverage against: current ids, revoked ones replaced, unusable ones left out (worked out
    # once from ``techniques``: every scorer asks for them).
    technique_ids: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "technique_ids", current_ids(self.techniques))

    def placed(self, applicable_to: tuple[str, ...], siems: tuple[str, ...]) -> Rule:
        """This rule where its rule source deploys it: the groups it watches and the SIEMs it runs on, unless it
        says so itself (a fast ``dataclasses.replace``: scans place every rule they read)."""
        applicable_to, siems = self.applicable_to or applicable_to, self.siems or siems
        if applicable_to == self.applicable_to and siems == self.siems:
            return self
        return self._with(applicable_to=applicable_to, siems=siems)

    def without_query(self) -> Rule:
        """This rule without its query text (what a scan keeps: it scores from log sources and tags)."""
        return self._with(query="") if self.query else self

    def _with(self, **changes: object) -> Rule:
        """A copy with ``changes``, slot by slot (scans place 100,000 rules); ``technique_ids`` follows
        ``techniques``."""
        values = list(_RULE_VALUES(self))
        for name, value in changes.items():
            values[_RULE_SLOT[name]] = value
        if "techniques" in changes:
            values[-1] = current_ids(values[_TECHNIQUES])
        return _build_rule(values)

    @property
    def path(self) -> str:
        return self.location.path

    @property
    def unusable_techniques(self) -> tuple[IdResolution, ...]:
        """Ids written in the rule that count for nothing here (unknown in this ATT&CK version,
        deprecated)."""
        return tuple(r for r in self.techniques if not r.usable)

    @property
    def revoked_techniques(self) -> tuple[IdResolution, ...]:
        return tuple(r for r in self.techniques if r.status is IdStatus.REVOKED)

    @property
    def log_source_labels(self) -> tuple[str, ...]:
        return tuple(f"{r.kind}:{r.value}" for r in self.log_sources)


@dataclass(frozen=True)
class Placement:
    """Where a rule source deploys its rules: the system groups they watch (empty: all) and, per format family
    (:attr:`RuleFormat.family`), the SIEM instances they run on. A rule that names its own keeps them."""

    applicable_to: tuple[str, ...] = ()
    siems: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def place(self, rule: Rule) -> Rule:
        return rule.placed(self.applicable_to, self.siems.get(rule.format.family, ()))


@dataclass(frozen=True, slots=True)
class FileResult:
    """How one input file was accounted for: ``rules`` rules parsed, or skipped with ``skipped`` as the
    reason.

    ``items_skipped`` counts entries inside a container file that are not rules (Kibana exception lists,
    savedsearches support searches, DeTT&CT placeholder detections); ``issues`` explain them and any
    per-rule problem.
    """

    path: str
    format: RuleFormat | None
    rules: int = 0
    skipped: str | None = None
    items_skipped: int = 0
    issues: tuple[Issue, ...] = ()
    sha256: str | None = None  # of the bytes read (None: skipped before reading); the scan's rules fingerprint

    @property
    def parsed(self) -> bool:
        return self.skipped is None


_RULES_COUNT = operator.attrgetter("rules")


@dataclass(frozen=True)
class RuleSet:
    """All rules read from some paths, plus the accounting of every file."""

    rules: tuple[Rule, ...]
    files: tuple[FileResult, ...]
    issues: tuple[Issue, ...] = field(default=())

    def __post_init__(self) -> None:
        counted = sum(map(_RULES_COUNT, self.files))
        if counted != len(self.rules):  # a reader bug, never a user error
            raise AssertionError(
                f"rule accounting does not add up: files say {counted}, got {len(self.rules)}"
            )

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def files_parsed(self) -> int:
        return sum(1 for f in self.files if f.parsed)

    @property
    def files_skipped(self) -> int:
        return sum(1 for f in self.files if not f.parsed)

    def skip_reasons(self) -> Counter[str]:
        """Skip reasons folded to their kind (the text before the first ``:``), with counts."""
        return Counter((f.skipped or "").split(":")[0] for f in self.files if not f.parsed)

    def by_format(self) -> Counter[str]:
        return Counter(r.format.value for r in self.rules)

    def by_status(self) -> Counter[str]:
        return Counter(r.status.value for r in self.rules)

    def other_release_ids(self) -> dict[str, tuple[IdResolution, tuple[Rule, ...]]]:
        """Ids of another ATT&CK release with no equivalent in the loaded one (e.g. a v19 id that the crosswalk
        does not pair): id -> (its resolution, the rules that carry it), in id order."""
        found: dict[str, tuple[IdResolution, list[Rule]]] = {}
        for rule in self.rules:
            for res in rule.techniques:
                if res.release and not res.usable and res.id:
                    found.setdefault(res.id, (res, []))[1].append(rule)
        return {tid: (res, tuple(rules)) for tid, (res, rules) in sorted(found.items())}

    def technique_problems(self) -> Counter[tuple[str, str]]:
        """(id as normalised, status) -> number of rules, for revoked / deprecated / unknown / invalid ids."""
        out: Counter[tuple[str, str]] = Counter()
        for rule in self.rules:
            for res in dict.fromkeys(r for r in rule.techniques if r.status is not IdStatus.CURRENT):
                out[(res.id or res.raw, res.status.value)] += 1
        return out


def current_ids(techniques: tuple[IdResolution, ...]) -> tuple[str, ...]:
    """The ids to count coverage against: current ids, revoked ones replaced, unusable ones left out."""
    return tuple(dict.fromkeys(r.current for r in techniques if r.current))


_RULE_SLOTS = tuple(f.name for f in dataclasses.fields(Rule))  # the init fields, then technique_ids
assert _RULE_SLOTS[-1] == "technique_ids"
_RULE_SLOT = {name: i for i, name in enumerate(_RULE_SLOTS)}
_RULE_VALUES = operator.attrgetter(*_RULE_SLOTS)
_TECHNIQUES = _RULE_SLOT["techniques"]
_build_rule = slot_builder(Rule)


def rule_from_fields(values: list[Any], technique_ids: tuple[str, ...] | None = None) -> Rule:
    """The Rule whose init fields hold ``values``, in declaration order: what ``Rule(**fields)`` gives, for a third
    of its cost (the rule cache and a scan's placement build 100,000 of them); ``technique_ids``:
    ``current_ids(techniques)`` when known already (rules that share their techniques share it)."""
    return _build_rule((*values, current_ids(values[_TECHNIQUES]) if technique_ids is None else technique_ids))
