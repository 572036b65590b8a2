"""The device catalogue: vendor-neutral device / log-source types and the ATT&CK telemetry each one provides.

Shipped as package data (``detcov/datasources/catalog/*.yaml``, one file per family); users may add their
own catalogue files with the same layout (``load_catalog(extra=[path])``). Each type lists its data components
(by exact ATT&CK name, with an evidence code A/S/R and a reference), its v18 log-source names, the settings
that must be on for a component to be true (``requires``), and, for devices that can block, the ATT&CK
mitigations its blocking mode implements. :func:`check_catalog` reports what the loaded ATT&CK version lacks.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from detcov.attack import AttackKB
from detcov.attack.model import DetectionModel
from detcov.errors import DetcovError, Issue, Location, Severity
from detcov.userfiles import UserModel, check_header, load_yaml, validate_model

CATALOG_DIR = Path(__file__).resolve().parent
FILE_TYPE = "device-catalog"
VERSIONS = (1,)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
EVIDENCE = {"A": "v18 analytic cites this log source", "S": "CTID / OSSEM-DM event mapping", "R": "reasoning"}


class CatalogComponent(UserModel):
    """One data component a device type provides, with the evidence for the mapping."""

    component: str = Field(min_length=1)
    evidence: Literal["A", "S", "R"]
    ref: str = Field(min_length=1)
    requires: str | None = None  # a setting id of the type that must be on
    platforms: tuple[str, ...] | None = None  # narrows the type's platforms for this component


class CatalogSetting(UserModel):
    id: str = Field(min_length=1)
    description: str


class Blocking(UserModel):
    mitigations: tuple[str, ...] = Field(min_length=1)
    description: str


class DeviceType(UserModel):
    """A kind of device or log source (``sysmon``, ``ngfw``, ``core-banking`` …)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    description: str = ""
    platforms: tuple[str, ...] | None = None  # None: any platform of the system groups it covers
    log_sources: tuple[str, ...] = ()
    dettect_data_source: str | None = None  # DeTT&CT's own data source (Web, Internal DNS, Email, DHCP)
    components: tuple[CatalogComponent, ...] = Field(min_length=1)
    settings: tuple[CatalogSetting, ...] = ()
    configuration: tuple[str, ...] = ()
    blocking: Blocking | None = None
    family: str = ""
    provider: str | None = None  # the one cloud provider this type is for (AWS, GCP, Azure …); None: any

    @model_validator(mode="after")
    def _requires_known_settings(self) -> DeviceType:
        known = {s.id for s in self.settings}
        for c in self.components:
            if c.requires is not None and c.requires not in known:
                raise ValueError(f"component {c.component!r} requires unknown setting {c.requires!r} "
                                 f"(declare it under settings)")
        return self

    @property
    def can_block(self) -> bool:
        return self.blocking is not None

    @property
    def setting_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.settings)

    def component_platforms(self, component: CatalogComponent) -> tuple[str, ...] | None:
        """Where a component counts: its own platforms, else the type's, else anywhere (None)."""
        return component.platforms if component.platforms is not None else self.platforms


class CatalogFile(UserModel):
    version: int
    file_type: Literal["device-catalog"]
    family: str
    types: tuple[DeviceType, ...]


@dataclass(frozen=True)
class Catalog:
    """All device types, in file order; ``sources`` says which file each type came from."""

    types: tuple[DeviceType, ...]
    sources: dict[str, str] = field(default_factory=dict)

    def get(self, type_id: str) -> DeviceType | None:
        return self._by_id.get(type_id.strip().lower())

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.types)

    def suggest(self, type_id: str) -> list[str]:
        return difflib.get_close_matches(type_id.strip().lower(), self.ids, n=3, cutoff=0.5)

    def __iter__(self) -> Iterator[DeviceType]:
        return iter(self.types)

    def __len__(self) -> int:
        return len(self.types)

    @cached_property
    def _by_id(self) -> dict[str, DeviceType]:
        return {t.id: t for t in self.types}


def _read_file(path: Path) -> CatalogFile:
    """Fast path: libyaml + pydantic; on any problem, re-read round-trip to report file:line:col."""
    try:
        with path.open("rb") as fh:
            parsed = CatalogFile.model_validate(yaml.load(fh, Loader=_Loader))
    except (OSError, yaml.YAMLError, ValidationError):
        data = load_yaml(path)
        header = check_header(data, path, FILE_TYPE, VERSIONS)
        if header:
            raise DetcovError(issues=header) from None
        parsed = validate_model(CatalogFile, data, path)
    typed = tuple(t.model_copy(update={"family": parsed.family}) for t in parsed.types)
    return parsed.model_copy(update={"types": typed})


@lru_cache(maxsize=8)
def _load(paths: tuple[Path, ...]) -> Catalog:
    types: list[DeviceType] = []
    sources: dict[str, str] = {}
    issues: list[Issue] = []
    for path in paths:
        try:
            parsed = _read_file(path)
        except DetcovError as exc:
            issues.extend(exc.issues)
            continue
        for t in parsed.types:
            if t.id in sources:
                issues.append(Issue(f"device type {t.id!r} is defined twice (also in {sources[t.id]})",
                                    Location(str(path)), "give the new type another id"))
                continue
            sources[t.id] = str(path)
            types.append(t)
    if issues:
        raise DetcovError(issues=issues)
    return Catalog(tuple(types), sources)


def load_catalog(extra: Iterable[str | Path] = ()) -> Catalog:
    """The shipped catalogue (plus the user's own catalogue files, if given). Cached."""
    shipped = tuple(sorted(CATALOG_DIR.glob("*.yaml")))
    return _load(shipped + tuple(Path(p) for p in extra))


def check_catalog(catalog: Catalog, kb: AttackKB) -> list[Issue]:
    """What the catalogue names that this ATT&CK version lacks (components, platforms, mitigations, logs).

    Components and mitigations missing from the version are errors for that version (the component gives no
    visibility there); unknown v18 log-source names are warnings (they still match rules by name).
    """
    issues: list[Issue] = []
    platforms = set(kb.platforms)
    for t in catalog.types:
        where = Location(catalog.sources.get(t.id, "catalog"))
        prefix = f"catalog type {t.id!r}"
        for c in t.components:
            dc = kb.data_component(c.component)
            if dc is None or not dc.active:
                state = "is deprecated" if dc is not None else "does not exist"
                issues.append(Issue(f"{prefix}: data component {c.component!r} {state} in ATT&CK "
                                    f"{kb.version}", where, "it gives no visibility with this version"))
        for p in sorted(_all_platforms(t) - platforms):
            issues.append(Issue(f"{prefix}: platform {p!r} is not an ATT&CK {kb.version} platform", where,
                                f"use one of: {', '.join(kb.platforms)}"))
        for mid in t.blocking.mitigations if t.blocking else ():
            m = kb.mitigation(mid)
            if m is None or not m.active:
                issues.append(Issue(f"{prefix}: mitigation {mid} is not in ATT&CK {kb.version}", where,
                                    "fix the mitigation id"))
        if kb.detection_model is DetectionModel.ANALYTICS:
            issues.extend(Issue(f"{prefix}: log source {name!r} is not named in ATT&CK {kb.version}", where,
                                "check its spelling against `detcov attack` log sources", Severity.WARNING)
                          for name in t.log_sources if kb.log_source_name(name) is None)
    return issues


def _all_platforms(t: DeviceType) -> set[str]:
    out = set(t.platforms or ())
    for c in t.components:
        out.update(c.platforms or ())
    return out


def component_index(catalog: Catalog, kb: AttackKB) -> dict[str, tuple[str, ...]]:
    """Data component STIX id -> the catalogue types that provide it (for 'what to add' hints)."""
    out: dict[str, list[str]] = {}
    for t in catalog.types:
        for c in t.components:
            dc = kb.data_component(c.component)
            if dc is not None and t.id not in out.setdefault(dc.stix_id, []):
                out[dc.stix_id].append(t.id)
    return {k: tuple(v) for k, v in out.items()}
