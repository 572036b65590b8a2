"""The institution's inventory (``inventory.yaml``): system groups, devices, data quality → telemetry.

A *system group* (DeTT&CT's ``applicable_to``: "Windows workstations", "Core banking") has ATT&CK platforms
and a host count. A *device* has a catalogue type (or an explicit component list for a product the catalogue
lacks), the groups it covers, per-device overrides, the settings it runs with, DeTT&CT's five data-quality
dimensions, whether its logs reach the SIEM, and whether blocking is on. Validation reports every problem
with ``file:line:col``.

Typical use::

    catalog = load_catalog()
    inv = load_inventory("inventory.yaml", kb, catalog)
    inv.telemetry(kb, catalog)              # CollectedTelemetry (SIEM devices only)
    inv.group_telemetry(kb, catalog)        # per system group and platform, with devices and quality
    detcov.coverage.scope.build_estate(inv, kb, catalog)  # groups × SIEMs × products, for every scorer
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo

from detcov.attack import AttackKB
from detcov.datasources.catalog import Catalog
from detcov.datasources.telemetry import CollectedTelemetry, SiemFacts, fold
from detcov.errors import DetcovError, Issue, Severity
from detcov.userfiles import UserModel, load_user_file

FILE_TYPE = "inventory"
VERSIONS = (1,)
ALL = "all"
DQ_DIMENSIONS = ("device_completeness", "data_field_completeness", "timeliness", "consistency", "retention")
# DeTT&CT's Excel "DQ score" weights: completeness of devices and fields and retention count double.
DQ_WEIGHTS = {"device_completeness": 2, "data_field_completeness": 2, "timeliness": 1, "consistency": 1,
              "retention": 2}
FULL_QUALITY_AT = 4.0  # "Very good" on DeTT&CT's 0-5 scale gives full credit
UNKNOWN_QUALITY = 0.5  # no dimension documented: assume "Fair" (2/4) and say so in every explanation

Score05 = Annotated[int, Field(ge=0, le=5)]


def _known_component(name: str, info: ValidationInfo) -> str:
    """With ``context={"kb": kb}``, unknown component names fail schema validation (located at the item)."""
    kb = (info.context or {}).get("kb")
    if kb is not None and kb.data_component(name) is None:
        names = [c.name for c in kb.data_components()]
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else "; use an ATT&CK data component name"
        raise ValueError(f"unknown data component {name!r} in ATT&CK {kb.version}{hint}")
    return name


def _known_type(type_id: str | None, info: ValidationInfo) -> str | None:
    catalog = (info.context or {}).get("catalog")
    if catalog is not None and type_id is not None and catalog.get(type_id) is None:
        close = catalog.suggest(type_id)
        hint = f"; did you mean {close[0]!r}?" if close else "; see `detcov catalog list`"
        raise ValueError(f"unknown device type {type_id!r}{hint}")
    return type_id


def _known_platform(name: str, info: ValidationInfo) -> str:
    kb = (info.context or {}).get("kb")
    if kb is not None and name not in kb.platforms:
        close = difflib.get_close_matches(name, kb.platforms, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else f"; use one of: {', '.join(kb.platforms)}"
        raise ValueError(f"unknown ATT&CK platform {name!r}{hint}")
    return name


ComponentName = Annotated[str, AfterValidator(_known_component)]
PlatformName = Annotated[str, AfterValidator(_known_platform)]


class DataQuality(UserModel):
    """DeTT&CT's five data-quality dimensions, 0 (unknown) to 5 (excellent)."""

    device_completeness: Score05 = 0
    data_field_completeness: Score05 = 0
    timeliness: Score05 = 0
    consistency: Score05 = 0
    retention: Score05 = 0

    @property
    def known(self) -> bool:
        return any(getattr(self, d) > 0 for d in DQ_DIMENSIONS)

    @property
    def weighted(self) -> float | None:
        """Weighted mean (0-5) over the documented (non-zero) dimensions; None when nothing is documented."""
        parts: list[tuple[int, int]] = [(getattr(self, d), DQ_WEIGHTS[d]) for d in DQ_DIMENSIONS
                                         if getattr(self, d) > 0]
        if not parts:
            return None
        return sum(v * w for v, w in parts) / sum(w for _, w in parts)

    @property
    def factor(self) -> float:
        """Credit 0..1 a device earns for a component: weighted DQ / 4, capped at 1 (unknown: 0.5)."""
        w = self.weighted
        return UNKNOWN_QUALITY if w is None else min(1.0, w / FULL_QUALITY_AT)


GroupKind = Literal["workstations", "servers", "core-banking", "payments", "internet-banking", "cloud", "network",
                    "identity", "other"]
SiemProduct = Literal["splunk", "elastic", "sentinel", "defender-xdr", "qradar", "chronicle", "other"]
DEFAULT_CRITICALITY = 3
CRITICALITY_MEANING = {
    5: "crown jewel: a compromise is a reportable major incident (core banking, SWIFT/payments, internet banking)",
    4: "business-critical: supports critical services (identity, servers behind them)",
    3: "important: standard servers and workstations (default)",
    2: "supporting: can be down for a day without customer impact",
    1: "low: lab, test, isolated",
}
IMPLICIT_SIEM = "siem"


class SystemGroup(UserModel):
    applicable_to: str = Field(min_length=1)
    platforms: tuple[PlatformName, ...]  # non-empty: checked by validation (one located issue)
    hosts: int | None = Field(default=None, ge=0)
    criticality: int | None = Field(default=None, ge=1, le=5)  # None: DEFAULT_CRITICALITY, with a warning
    kind: GroupKind = "other"
    internet_facing: bool = False
    providers: tuple[str, ...] = ()  # cloud providers really used (empty: not stated)
    host_patterns: tuple[str, ...] = ()  # host name / IP globs placing simulation results and log-flow hosts here
    description: str | None = None

    @property
    def level(self) -> int:
        """The criticality 1..5 (the default when the inventory does not state one)."""
        return self.criticality if self.criticality is not None else DEFAULT_CRITICALITY


class Siem(UserModel):
    """One SIEM instance the institution runs; devices send their logs to it, rule sources run on it."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    product: SiemProduct = "other"
    name: str | None = None
    ml_jobs: tuple[str, ...] = ()  # Elastic ML jobs that run (ML rules need theirs)
    custom_tables: tuple[str, ...] = ()  # custom tables / sourcetypes that exist (custom-table rules need theirs)

    @property
    def label(self) -> str:
        return self.name or self.id


class Feed(UserModel):
    """How a device's logs appear in one SIEM (globs): matched against log-flow evidence."""

    siem: str
    index: str | None = None
    sourcetype: str | None = None
    table: str | None = None


class Device(UserModel):
    name: str = Field(min_length=1)
    type: Annotated[str | None, AfterValidator(_known_type)] = None
    vendor: str | None = None
    product: str | None = None
    applicable_to: tuple[str, ...] = Field(min_length=1)
    components: tuple[ComponentName, ...] = ()  # only without a type: everything the product delivers
    log_sources: tuple[str, ...] = ()  # log-source names in addition to the type's
    missing_components: tuple[ComponentName, ...] = ()  # the type lists them, this device lacks them
    extra_components: tuple[ComponentName, ...] = ()
    settings: dict[str, bool] = Field(default_factory=dict)
    data_quality: DataQuality = Field(default_factory=DataQuality)
    product_id: str | None = None  # a key of detcov/datasources/products.yaml (else matched from vendor/product)
    siem: bool | tuple[str, ...] = True  # SIEM ids; true: every declared SIEM; false / []: none
    feeds: tuple[Feed, ...] = ()
    retention_days: int | None = Field(default=None, ge=0)
    siem_since: dt.date | None = None
    blocking: bool | None = None
    comment: str | None = None

    def covers(self, group: str) -> bool:
        return ALL in self.applicable_to or group in self.applicable_to

    @property
    def in_siem(self) -> bool:
        return bool(self.siem)

    def siem_ids(self, declared: tuple[str, ...]) -> tuple[str, ...]:
        """The SIEM instances receiving this device's logs (``true``: all declared ones)."""
        if self.siem is True:
            return declared
        if self.siem is False:
            return ()
        return tuple(self.siem)


class TechniqueException(UserModel):
    """A technique left out of visibility on purpose (DeTT&CT's ``exceptions``), kept so a round trip loses
    nothing."""

    technique_id: str = Field(min_length=1)
    name: str | None = None


class Inventory(UserModel):
    """The validated inventory file (immutable). See the module docstring for the queries."""

    version: Literal[1] = 1
    file_type: Literal["inventory"] = "inventory"
    name: str = ""
    description: str | None = None
    siems: tuple[Siem, ...] = ()  # empty: one implicit SIEM (IMPLICIT_SIEM) receives every ``siem: true`` device
    system_groups: tuple[SystemGroup, ...]
    devices: tuple[Device, ...] = ()
    exceptions: tuple[TechniqueException, ...] = ()  # DeTT&CT exceptions (imported/exported as they are)

    @property
    def siem_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.siems) or (IMPLICIT_SIEM,)

    def siem(self, siem_id: str) -> Siem | None:
        found = next((s for s in self.siems if s.id == siem_id), None)
        if found is None and not self.siems and siem_id == IMPLICIT_SIEM:
            return Siem(id=IMPLICIT_SIEM, name="the SIEM")
        return found

    def group(self, name: str) -> SystemGroup | None:
        return next((g for g in self.system_groups if g.applicable_to == name), None)

    def devices_for(self, group: str) -> list[Device]:
        return [d for d in self.devices if d.covers(group)]

    def resolve(self, kb: AttackKB, catalog: Catalog, context: ResolveContext | None = None
                ) -> tuple[ResolvedDevice, ...]:
        ctx = context or ResolveContext()
        return tuple(resolve_device(d, kb, catalog, ctx, self.siem_ids) for d in self.devices)

    def group_telemetry(self, kb: AttackKB, catalog: Catalog, context: ResolveContext | None = None
                        ) -> dict[str, GroupTelemetry]:
        """Per system group: which device delivers which component on which platform, with its quality."""
        resolved = self.resolve(kb, catalog, context)
        return {g.applicable_to: build_group_telemetry(g, resolved) for g in self.system_groups}

    def telemetry(self, kb: AttackKB, catalog: Catalog) -> CollectedTelemetry:
        """What reaches any SIEM, per ATT&CK platform, over the whole estate (``rules check`` without a scan;
        the scan judges rules per system group and SIEM through :mod:`detcov.coverage.scope`)."""
        resolved = self.resolve(kb, catalog)
        return collected_telemetry(build_group_telemetry(g, resolved) for g in self.system_groups)


@dataclass(frozen=True, slots=True)
class ResolveContext:
    """What the scan knows beyond the inventory file: the institution's data-quality requirement, and log-flow
    evidence (``(device, siem) -> reason`` for every SIEM where the device's logs were found silent)."""

    retention_days: int | None = None
    silent: Mapping[tuple[str, str], str] = field(default_factory=dict)
    products: Mapping[str, str | None] = field(default_factory=dict)  # device name -> product key


@dataclass(frozen=True, slots=True)
class ResolvedDevice:
    """A device with its components as STIX ids (settings and overrides applied) and its quality factor."""

    name: str
    type: str | None
    applicable_to: tuple[str, ...]
    components: Mapping[str, tuple[str, ...] | None]  # STIX id -> platforms where it counts (None: any)
    log_sources: tuple[str, ...]  # folded
    log_source_platforms: tuple[str, ...] | None
    quality: float  # 0..1, after the data-quality caps
    quality_known: bool
    siems: tuple[str, ...] = ()  # SIEM instances its logs really reach (silent ones removed)
    product: str | None = None  # product key (detcov/datasources/products.yaml)
    cap: str = ""  # why the quality is capped ("retention 180 days < required 365")
    silent: tuple[str, ...] = ()  # "splunk: silent since …" — SIEMs it is declared for but does not reach

    @property
    def siem(self) -> bool:
        return bool(self.siems)

    def covers(self, group: str) -> bool:
        return ALL in self.applicable_to or group in self.applicable_to

    def platforms_in(self, group: SystemGroup) -> tuple[str, ...]:
        """The group's platforms on which this device's logs count."""
        return tuple(p for p in group.platforms
                     if self.log_source_platforms is None or p in self.log_source_platforms)


def quality_cap(device: Device, retention_days: int | None) -> tuple[float, str]:
    """The cap a failed critical data-quality dimension puts on a device's credit (1.0: none), and why.

    Completeness 1 (poor: ≤ 25 % of devices or fields) caps at 0.25 (visibility ≤ 1). Retention below the
    institution's requirement caps at 0.5 (visibility ≤ 2), or 0.75 (≤ 3) when only slightly below (band 4,
    76–99 %); with ``retention_days`` on both sides the days decide, else DeTT&CT's band (relative to the
    institution's own requirement) does.
    """
    dq = device.data_quality
    caps: list[tuple[float, str]] = []
    if dq.device_completeness == 1 or dq.data_field_completeness == 1:
        which = "device" if dq.device_completeness == 1 else "data-field"
        caps.append((0.25, f"{which} completeness 1 (poor)"))
    if retention_days and device.retention_days is not None:
        share = device.retention_days / retention_days
        if share < 1:
            caps.append((0.75 if share > 0.75 else 0.5,
                         f"retention {device.retention_days} days < required {retention_days}"))
    elif 1 <= dq.retention <= 4:
        caps.append((0.75 if dq.retention == 4 else 0.5, f"retention band {dq.retention} of 5 (below the "
                     "required retention)"))
    if not caps:
        return 1.0, ""
    value = min(c for c, _ in caps)
    return value, "; ".join(reason for _, reason in caps)


def resolve_device(device: Device, kb: AttackKB, catalog: Catalog, context: ResolveContext | None = None,
                   declared_siems: tuple[str, ...] = (IMPLICIT_SIEM,)) -> ResolvedDevice:
    """Components the device really delivers (names this ATT&CK version lacks are reported by validation)."""
    ctx = context or ResolveContext()
    dtype = catalog.get(device.type) if device.type else None
    comps: dict[str, tuple[str, ...] | None] = {}
    missing = {dc.stix_id for n in device.missing_components if (dc := kb.data_component(n)) is not None}
    if dtype is not None:
        for c in dtype.components:
            dc = kb.data_component(c.component)
            on = c.requires is None or device.settings.get(c.requires, True)
            if dc is not None and dc.active and on and dc.stix_id not in missing:
                comps[dc.stix_id] = dtype.component_platforms(c)
    for name in (*device.components, *device.extra_components):
        dc = kb.data_component(name)
        if dc is not None and dc.active and dc.stix_id not in missing:
            comps[dc.stix_id] = None if dtype is None else dtype.platforms
    logs = (*(dtype.log_sources if dtype else ()), *device.log_sources)
    cap, cap_reason = quality_cap(device, ctx.retention_days)
    declared = device.siem_ids(declared_siems)
    silent = tuple(f"{s}: {ctx.silent[(device.name, s)]}" for s in declared if (device.name, s) in ctx.silent)
    return ResolvedDevice(
        name=device.name, type=device.type, applicable_to=device.applicable_to, components=comps,
        log_sources=tuple(dict.fromkeys(fold(n) for n in logs)),
        log_source_platforms=dtype.platforms if dtype else None,
        quality=min(device.data_quality.factor, cap), quality_known=device.data_quality.known,
        siems=tuple(s for s in declared if (device.name, s) not in ctx.silent),
        product=ctx.products.get(device.name, device.product_id), cap=cap_reason, silent=silent)


@dataclass(frozen=True, slots=True)
class Delivery:
    device: str
    quality: float
    quality_known: bool
    cap: str = ""


@dataclass(frozen=True)
class GroupTelemetry:
    """One system group: per platform, component STIX id -> the devices delivering it to a SIEM."""

    group: SystemGroup
    components: Mapping[str, Mapping[str, tuple[Delivery, ...]]]
    log_sources: Mapping[str, frozenset[str]]
    not_in_siem: Mapping[str, Mapping[str, tuple[str, ...]]]  # deployed, but the logs do not reach a SIEM
    devices: tuple[ResolvedDevice, ...] = ()  # every device covering the group (in the SIEM or not)

    def deliveries(self, component: str, platform: str) -> tuple[Delivery, ...]:
        return self.components.get(platform, {}).get(component, ())

    def quality(self, component: str, platform: str) -> float:
        """Best quality any SIEM device gives this component on this platform (0 when absent)."""
        return max((d.quality for d in self.deliveries(component, platform)), default=0.0)


def build_group_telemetry(group: SystemGroup, devices: tuple[ResolvedDevice, ...]) -> GroupTelemetry:
    comps: dict[str, dict[str, list[Delivery]]] = defaultdict(lambda: defaultdict(list))
    idle: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    logs: dict[str, set[str]] = defaultdict(set)
    members = tuple(d for d in devices if d.covers(group.applicable_to))
    for d in members:
        for platform in group.platforms:
            for dc, where in d.components.items():
                if where is not None and platform not in where:
                    continue
                if d.siem:
                    comps[platform][dc].append(Delivery(d.name, d.quality, d.quality_known, d.cap))
                else:
                    idle[platform][dc].append(f"{d.name} ({'; '.join(d.silent)})" if d.silent else d.name)
            if d.siem and (d.log_source_platforms is None or platform in d.log_source_platforms):
                logs[platform].update(d.log_sources)
    return GroupTelemetry(
        group,
        {p: {dc: tuple(v) for dc, v in m.items()} for p, m in comps.items()},
        {p: frozenset(v) for p, v in logs.items()},
        {p: {dc: tuple(v) for dc, v in m.items()} for p, m in idle.items()},
        members,
    )


def collected_telemetry(groups: Iterable[GroupTelemetry], siem: str | None = None,
                        facts: SiemFacts | None = None) -> CollectedTelemetry:
    """What reaches one SIEM (``None``: any) from these groups, per platform, with the delivering devices."""
    comps: dict[str, set[str]] = defaultdict(set)
    logs: dict[str, set[str]] = defaultdict(set)
    type_devices: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    comp_devices: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    products: dict[str, str | None] = {}
    silent: dict[str, str] = {}
    for gt in groups:
        for d in gt.devices:
            quiet = [text for text in d.silent if siem is None or text.startswith(f"{siem}: ")]
            if quiet:
                silent[d.name] = "; ".join(quiet)
            if not d.siems or (siem is not None and siem not in d.siems):
                continue
            products[d.name] = d.product
            for platform in gt.group.platforms:
                for dc, where in d.components.items():
                    if where is None or platform in where:
                        comps[platform].add(dc)
                        comp_devices[platform][dc].add(d.name)
                if d.log_source_platforms is None or platform in d.log_source_platforms:
                    logs[platform].update(d.log_sources)
                    if d.type:
                        type_devices[platform][d.type].add(d.name)
    return CollectedTelemetry(
        {p: frozenset(v) for p, v in comps.items()}, {p: frozenset(v) for p, v in logs.items()},
        frozenset(t for m in type_devices.values() for t in m),
        {p: {t: frozenset(v) for t, v in m.items()} for p, m in type_devices.items()},
        {p: {dc: frozenset(v) for dc, v in m.items()} for p, m in comp_devices.items()},
        products, facts, silent)


def load_inventory_with_issues(path: str | Path, kb: AttackKB, catalog: Catalog
                               ) -> tuple[Inventory, list[Issue], Any]:
    """The inventory, its warnings, and the round-trip document; DetcovError with every error on bad input."""
    from detcov.datasources.validate import check_inventory

    inv, doc = load_user_file(path, Inventory, FILE_TYPE, VERSIONS, context={"kb": kb, "catalog": catalog})
    issues = check_inventory(inv, kb, catalog, doc, path)
    errors = [i for i in issues if i.severity is Severity.ERROR]
    if errors:
        raise DetcovError(issues=errors)
    return inv, issues, doc


def load_inventory(path: str | Path, kb: AttackKB, catalog: Catalog) -> Inventory:
    """The validated inventory (see :func:`load_inventory_with_issues` for its warnings)."""
    return load_inventory_with_issues(path, kb, catalog)[0]
