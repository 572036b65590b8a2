"""What the institution really delivers to its SIEM: the contract between the inventory and everything else.

The inventory (``detcov.datasources.inventory``) produces a :class:`CollectedTelemetry`; rule health
(``detcov.rules.health``), the coverage engine and the rule-pack suggester only read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ANY_PLATFORM = "*"


def fold(text: str) -> str:
    return " ".join(text.casefold().split())


@dataclass(frozen=True, slots=True)
class SiemFacts:
    """What a SIEM instance declares it runs: ML jobs and custom tables (folded names)."""

    id: str
    product: str
    ml_jobs: frozenset[str] = frozenset()
    custom_tables: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CollectedTelemetry:
    """Data components, log sources and device types that reach the SIEM, per ATT&CK platform.

    ``components`` and ``log_sources`` map an ATT&CK platform (``Windows``, ``Linux``, ``IaaS`` …) to the
    STIX ids of the data components / the folded log-source names collected for the system groups on that
    platform. Only devices whose logs reach the SIEM count.
    """

    components: Mapping[str, frozenset[str]] = field(default_factory=dict)
    log_sources: Mapping[str, frozenset[str]] = field(default_factory=dict)
    device_types: frozenset[str] = frozenset()
    type_devices: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)  # platform→type→devices
    component_devices: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)  # platform→dc→devices
    device_products: Mapping[str, str | None] = field(default_factory=dict)  # device -> product key (None: unknown)
    siem: SiemFacts | None = None  # the SIEM the telemetry reaches (rule health per SIEM), None: any
    silent: Mapping[str, str] = field(default_factory=dict)  # device -> log-flow evidence: declared but silent

    @property
    def types_on(self) -> Mapping[str, frozenset[str]]:
        return {p: frozenset(m) for p, m in self.type_devices.items()}

    def devices_for(self, types: frozenset[str], components: frozenset[str], platform: str | None
                    ) -> frozenset[str]:
        """The devices that deliver a need on a platform (None: any): one of ``types`` (if any) carrying every
        one of ``components`` (if any). Empty: not delivered."""
        if not self.type_devices and not self.component_devices:
            return self._legacy(types, components, platform)
        platforms = [platform, ANY_PLATFORM] if platform else list({*self.type_devices, *self.component_devices})
        typed: set[str] | None = None
        if types:
            typed = {d for p in platforms for t in types for d in self.type_devices.get(p, {}).get(t, ())}
            if not typed:
                return frozenset()
        if not components:
            return frozenset(typed or ())
        out: set[str] = set()
        for dc in components:
            have = {d for p in platforms for d in self.component_devices.get(p, {}).get(dc, ())}
            if typed is not None:
                have &= typed
            if not have:
                return frozenset()
            out |= have
        return frozenset(out)

    def _legacy(self, types: frozenset[str], components: frozenset[str], platform: str | None) -> frozenset[str]:
        if types and self.device_types and not types & self.device_types:
            return frozenset()
        if components and self.components:
            ok = all(self.has_component(dc, platform) for dc in components)
            return frozenset({"(collected)"}) if ok else frozenset()
        return frozenset({"(collected)"}) if types and self.device_types else frozenset()

    def with_products(self, devices: frozenset[str], products: frozenset[str]) -> frozenset[str]:
        return frozenset(d for d in devices if self.device_products.get(d) in products)

    def product_unknown(self, devices: frozenset[str]) -> bool:
        return any(self.device_products.get(d) is None for d in devices)

    def has_component(self, data_component: str, platform: str | None = None) -> bool:
        if platform is None:
            return any(data_component in dcs for dcs in self.components.values())
        return data_component in self.components.get(platform, frozenset()) or data_component in \
            self.components.get(ANY_PLATFORM, frozenset())

    def has_log_source(self, name: str, platform: str | None = None) -> bool:
        key = fold(name)
        if platform is None:
            return any(key in names for names in self.log_sources.values())
        return key in self.log_sources.get(platform, frozenset()) or key in \
            self.log_sources.get(ANY_PLATFORM, frozenset())

    def has_device_type(self, device_type: str, platform: str | None = None) -> bool:
        if platform is None or not self.type_devices:
            return device_type in self.device_types
        return bool(self.devices_for(frozenset({device_type}), frozenset(), platform))

    @property
    def platforms(self) -> frozenset[str]:
        return frozenset(p for p in self.components if p != ANY_PLATFORM)
