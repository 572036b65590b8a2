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
    inv.blocking_devices(catalog)           # for the blocking view
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo

from detcov.attack import AttackKB
from detcov.datasources.catalog import Catalog
from detcov.datasources.telemetry import CollectedTelemetry, fold
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


class SystemGroup(UserModel):
    applicable_to: str = Field(min_length=1)
    platforms: tuple[PlatformName, ...]  # non-empty: checked by validation (one located issue)
    hosts: int | None = Field(default=None, ge=0)
    description: str | None = None


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
    siem: bool = True
    siem_since: dt.date | None = None
    blocking: bool | None = None
    comment: str | None = None

    def covers(self, group: str) -> bool:
        return ALL in self.applicable_to or group in self.applicable_to


class Inventory(UserModel):
    """The validated inventory file (immutable). See the module docstring for the queries."""

    version: Literal[1] = 1
    file_type: Literal["inventory"] = "inventory"
    name: str = ""
    description: str | None = None
    system_groups: tuple[SystemGroup, ...]
    devices: tuple[Device, ...] = ()

    def group(self, name: str) -> SystemGroup | None:
        return next((g for g in self.system_groups if g.applicable_to == name), None)

    def devices_for(self, group: str) -> list[Device]:
        return [d for d in self.devices if d.covers(group)]

    def resolve(self, kb: AttackKB, catalog: Catalog) -> tuple[ResolvedDevice, ...]:
        return tuple(resolve_device(d, kb, catalog) for d in self.devices)

    def group_telemetry(self, kb: AttackKB, catalog: Catalog) -> dict[str, GroupTelemetry]:
        """Per system group: which device delivers which component on which platform, with its quality."""
        resolved = self.resolve(kb, catalog)
        return {g.applicable_to: build_group_telemetry(g, resolved) for g in self.system_groups}

    def telemetry(self, kb: AttackKB, catalog: Catalog) -> CollectedTelemetry:
        """What reaches the SIEM, per ATT&CK platform (only devices with ``siem: true``)."""
        return collected_telemetry(self.group_telemetry(kb, catalog).values(),
                                   frozenset(d.type for d in self.devices if d.siem and d.type))

    def blocking_devices(self, catalog: Catalog) -> list[BlockingDevice]:
        """Devices whose blocking is on, with the ATT&CK mitigations their type implements."""
        out = []
        for d in self.devices:
            dtype = catalog.get(d.type) if d.type else None
            if d.blocking and dtype is not None and dtype.blocking is not None:
                out.append(BlockingDevice(d.name, dtype.id, dtype.blocking.mitigations, d.applicable_to))
        return out


@dataclass(frozen=True, slots=True)
class BlockingDevice:
    name: str
    type: str
    mitigations: tuple[str, ...]  # M ids
    applicable_to: tuple[str, ...]  # system groups (or "all")


@dataclass(frozen=True, slots=True)
class ResolvedDevice:
    """A device with its components as STIX ids (settings and overrides applied) and its quality factor."""

    name: str
    type: str | None
    applicable_to: tuple[str, ...]
    components: Mapping[str, tuple[str, ...] | None]  # STIX id -> platforms where it counts (None: any)
    log_sources: tuple[str, ...]  # folded
    log_source_platforms: tuple[str, ...] | None
    quality: float
    quality_known: bool
    siem: bool

    def covers(self, group: str) -> bool:
        return ALL in self.applicable_to or group in self.applicable_to


def resolve_device(device: Device, kb: AttackKB, catalog: Catalog) -> ResolvedDevice:
    """Components the device really delivers (names this ATT&CK version lacks are reported by validation)."""
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
    return ResolvedDevice(
        name=device.name, type=device.type, applicable_to=device.applicable_to, components=comps,
        log_sources=tuple(dict.fromkeys(fold(n) for n in logs)),
        log_source_platforms=dtype.platforms if dtype else None,
        quality=device.data_quality.factor, quality_known=device.data_quality.known, siem=device.siem)


@dataclass(frozen=True, slots=True)
class Delivery:
    device: str
    quality: float
    quality_known: bool


@dataclass(frozen=True)
class GroupTelemetry:
    """One system group: per platform, component STIX id -> the devices delivering it to the SIEM."""

    group: SystemGroup
    components: Mapping[str, Mapping[str, tuple[Delivery, ...]]]
    log_sources: Mapping[str, frozenset[str]]
    not_in_siem: Mapping[str, Mapping[str, tuple[str, ...]]]  # deployed, but the logs do not reach the SIEM

    def deliveries(self, component: str, platform: str) -> tuple[Delivery, ...]:
        return self.components.get(platform, {}).get(component, ())

    def quality(self, component: str, platform: str) -> float:
        """Best quality any SIEM device gives this component on this platform (0 when absent)."""
        return max((d.quality for d in self.deliveries(component, platform)), default=0.0)


def build_group_telemetry(group: SystemGroup, devices: tuple[ResolvedDevice, ...]) -> GroupTelemetry:
    comps: dict[str, dict[str, list[Delivery]]] = defaultdict(lambda: defaultdict(list))
    idle: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    logs: dict[str, set[str]] = defaultdict(set)
    for d in devices:
        if not d.covers(group.applicable_to):
            continue
        for platform in group.platforms:
            for dc, where in d.components.items():
                if where is not None and platform not in where:
                    continue
                if d.siem:
                    comps[platform][dc].append(Delivery(d.name, d.quality, d.quality_known))
                else:
                    idle[platform][dc].append(d.name)
            if d.siem and (d.log_source_platforms is None or platform in d.log_source_platforms):
                logs[platform].update(d.log_sources)
    return GroupTelemetry(
        group,
        {p: {dc: tuple(v) for dc, v in m.items()} for p, m in comps.items()},
        {p: frozenset(v) for p, v in logs.items()},
        {p: {dc: tuple(v) for dc, v in m.items()} for p, m in idle.items()},
    )


def collected_telemetry(groups: Any, device_types: frozenset[str]) -> CollectedTelemetry:
    comps: dict[str, set[str]] = defaultdict(set)
    logs: dict[str, set[str]] = defaultdict(set)
    for gt in groups:
        for platform, m in gt.components.items():
            comps[platform].update(m)
        for platform, names in gt.log_sources.items():
            logs[platform].update(names)
    return CollectedTelemetry({p: frozenset(v) for p, v in comps.items()},
                              {p: frozenset(v) for p, v in logs.items()}, device_types)


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
