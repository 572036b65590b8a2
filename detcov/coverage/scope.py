"""The scope model: system groups, SIEM instances and products — the one home every scorer reads scope from.

A bank's numbers are only defensible per scope: "we see T1486 on the workstations" says nothing about core
banking. :func:`build_estate` turns the inventory (plus the scan's data-quality requirement and log-flow evidence)
into an :class:`Estate`:

* **groups** — each system group with its platforms, criticality 1–5 (:data:`CRITICALITY_MEANING`), kind, exposure;
* **SIEM instances** — each device says which SIEM(s) receive its logs, each rule source which SIEM it runs on;
* **devices resolved** once: components, product key, the quality after data-quality caps, the SIEMs really reached
  (a device whose logs were found silent no longer reaches that SIEM);
* per group the telemetry that visibility scores, and per (group, SIEM) the telemetry that rule health reads.

Everything here is pure and immutable; the engine builds one Estate per scan.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from detcov.attack import AttackKB
from detcov.attack.model import Technique
from detcov.datasources.catalog import Catalog
from detcov.datasources.inventory import (
    CRITICALITY_MEANING,
    IMPLICIT_SIEM,
    GroupTelemetry,
    Inventory,
    ResolveContext,
    ResolvedDevice,
    Siem,
    SystemGroup,
    build_group_telemetry,
    collected_telemetry,
)
from detcov.datasources.products import device_product
from detcov.datasources.telemetry import CollectedTelemetry, SiemFacts, fold
from detcov.rules.health import HealthScope

__all__ = ["CRITICAL", "CRITICALITY_MEANING", "Estate", "Evidence", "build_estate", "internet_only"]

CRITICAL = 4  # groups at or above this criticality are "critical" (the weakest of them is a headline)
# Techniques that only apply to internet-facing systems (the rest apply wherever their platform runs).
_INTERNET_ONLY = frozenset({"T1190"})


class Evidence(StrEnum):
    """How a claim of detection or blocking stands: nothing claimed, claimed by configuration, proven by a test in
    that system group within the validation window, or disproved by the newest test."""

    NONE = "none"
    CLAIMED = "claimed"
    PROVEN = "proven"
    DISPROVED = "disproved"


def internet_only(technique_id: str) -> bool:
    return technique_id.split(".")[0] in _INTERNET_ONLY


@dataclass(frozen=True)
class Estate:
    """The institution's scopes, resolved once per scan (see the module docstring)."""

    inventory: Inventory
    devices: tuple[ResolvedDevice, ...]
    siems: tuple[Siem, ...]
    product_notes: Mapping[str, str] = field(default_factory=dict)  # device -> how its product was decided

    @property
    def groups(self) -> tuple[SystemGroup, ...]:
        return self.inventory.system_groups

    def group(self, name: str) -> SystemGroup | None:
        return self.inventory.group(name)

    def criticality(self, name: str) -> int:
        g = self.group(name)
        return g.level if g else 3

    @cached_property
    def group_telemetry(self) -> dict[str, GroupTelemetry]:
        """Per system group, what reaches any SIEM (visibility)."""
        return {g.applicable_to: build_group_telemetry(g, self.devices) for g in self.groups}

    @cached_property
    def _siem_telemetry(self) -> dict[tuple[str, str], CollectedTelemetry]:
        out = {}
        for g in self.groups:
            gt = self.group_telemetry[g.applicable_to]
            for s in self.siems:
                facts = SiemFacts(s.id, s.product, frozenset(fold(j) for j in s.ml_jobs),
                                  frozenset(fold(t) for t in s.custom_tables))
                out[(g.applicable_to, s.id)] = collected_telemetry([gt], s.id, facts)
        return out

    def telemetry(self, group: str, siem: str) -> CollectedTelemetry:
        return self._siem_telemetry[(group, siem)]

    @cached_property
    def health_scopes(self) -> tuple[HealthScope, ...]:
        """Every (system group, SIEM) a rule can be judged in."""
        return tuple(HealthScope(g.applicable_to, g.platforms, s.id, self.telemetry(g.applicable_to, s.id))
                     for g in self.groups for s in self.siems)

    @cached_property
    def estate_telemetry(self) -> CollectedTelemetry:
        """What reaches any SIEM over all groups (for the rule-pack suggester's quick filters)."""
        return collected_telemetry(self.group_telemetry.values())

    @property
    def platforms(self) -> frozenset[str]:
        return frozenset(p for g in self.groups for p in g.platforms)

    def applicable(self, technique: Technique, group: SystemGroup) -> bool:
        """Does the technique apply to the group at all: one of its platforms, and its exposure?"""
        if not set(technique.platforms) & set(group.platforms):
            return False
        return group.internet_facing or not internet_only(technique.id)

    def group_of_host(self, host: str) -> str | None:
        """The system group whose ``host_patterns`` match a host name or address (first match)."""
        h = host.strip().casefold()
        for g in self.groups:
            if any(fnmatch.fnmatchcase(h, pat.casefold()) for pat in g.host_patterns):
                return g.applicable_to
        return None

    def resolve_group(self, name: str | None, host: str | None) -> str | None:
        if name:
            hit = next((g.applicable_to for g in self.groups if g.applicable_to.casefold() == name.casefold()), None)
            if hit:
                return hit
        return self.group_of_host(host) if host else None

    def siems_for_format(self, family: str) -> tuple[str, ...]:
        """The SIEM instances a rule format runs on when its rule source does not say (its product's, else all)."""
        product = {"splunk": "splunk", "elastic": "elastic", "sentinel": "sentinel", "defender": "defender-xdr"}.get(
            family)
        same = tuple(s.id for s in self.siems if s.product == product)
        if family == "defender" and not same:
            same = tuple(s.id for s in self.siems if s.product == "sentinel")  # XDR tables are in Sentinel too
        return same or tuple(s.id for s in self.siems)


def build_estate(inventory: Inventory, kb: AttackKB, catalog: Catalog, *, retention_days: int | None = None,
                 silent: Mapping[tuple[str, str], str] | None = None) -> Estate:
    """Resolve the inventory's scopes once (pure)."""
    products: dict[str, str | None] = {}
    notes: dict[str, str] = {}
    for d in inventory.devices:
        key, how = device_product(d.product_id, d.type, d.vendor, d.product, d.name)
        products[d.name] = key
        notes[d.name] = how
    context = ResolveContext(retention_days, dict(silent or {}), products)
    siems = inventory.siems or (Siem(id=IMPLICIT_SIEM, name="the SIEM"),)
    return Estate(inventory, inventory.resolve(kb, catalog, context), tuple(siems), notes)


def describe_groups(groups: Sequence[SystemGroup]) -> str:
    return ", ".join(f"{g.applicable_to} (criticality {g.level})" for g in groups)
